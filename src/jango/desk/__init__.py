"""A desk across machines: agents publish their journals to NATS JetStream, a hub keeps one
consolidated book of them (see ``docs/desk.md``).

``agent`` publishes a session's journal (the outbox) and answers routed orders; ``hub`` holds
the :class:`~jango.desk.hub.HubBroker` a normal session runs on; ``wire`` is the message
format; ``connect`` the URL and credentials; ``stream`` the JetStream stream and consumer;
``cli`` the ``agent`` and ``hub`` commands.
"""
