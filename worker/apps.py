from django.apps import AppConfig


class WorkerConfig(AppConfig):
    name = "worker"

    def ready(self) -> None:
        from worker import conf

        conf.check_environment()  # a malformed PRIOR_* variable stops the boot, naming itself
