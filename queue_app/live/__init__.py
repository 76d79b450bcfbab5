"""Live push: Socket.IO connections, where each journal event goes, and its delivery."""
