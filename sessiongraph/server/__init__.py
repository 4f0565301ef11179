"""The top of the house: the ASGI app and everything between the network and the schema."""
