# The plugin package: devnode (like the production node) imports each module here as plugins.<name>.
