"""The waiting-room TV display: the /display/<key> page and its assets."""
