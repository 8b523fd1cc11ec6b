"""The web layer: the app's typed state, the request's database session and the error
handlers. Nothing below it (services, engine) imports it or FastAPI."""
