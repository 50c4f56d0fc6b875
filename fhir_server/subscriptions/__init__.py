"""Topic-based subscriptions as the R4 Subscriptions Backport IG defines them
(docs/subscriptions.md): the topics this server offers (`topics`), a Subscription's settings
(`spec`), the outbox that turns journalled changes into numbered events per subscription
(`events`), the notification Bundles (`notification`), their delivery by rest-hook and
websocket (`delivery`, `websocket`) and the operations ``$status``, ``$events`` and
``$get-ws-binding-token`` (`operations`)."""
