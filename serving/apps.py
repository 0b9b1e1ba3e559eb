from django.apps import AppConfig


class ServingConfig(AppConfig):
    name = "serving"

    def ready(self) -> None:
        from serving import conf

        conf.check_environment()  # a malformed PRIOR_* variable stops the boot, naming itself
