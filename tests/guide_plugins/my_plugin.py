class My_pluginPlugin:
    def __init__(self, node):
        self.node = node

    def initialize(self):
        # Access blockchain interface
        balance = self.node.blockchain_interface.get_balance(address)

        # Access data manager
        data = self.node.data_manager.get_data(hash)

        # Access token manager
        tokens = self.node.token_manager.supported_tokens

        # Access P2P network
        peers = self.node.p2p_network.get_connected_peers()

        # Access compliance manager
        history = self.node.compliance_manager.get_compliance_history()

        # Encrypt/decrypt data
        encrypted = self.node.encrypt_data("secret")
        decrypted = self.node.decrypt_data(encrypted)

        # Publish events to dashboard
        await self.node.event_bus.publish(Event(
            type=EventType.COMPLIANCE_EVENT,
            data={'custom': 'data'}
        ))
