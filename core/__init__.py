"""The base every app may import and that imports no app: the application's errors (:mod:`core.errors`) and the
API's error shape (:mod:`core.api`). Not a Django app: no models, no settings."""
