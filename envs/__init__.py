"""arise-gym worlds as Gymnasium environments.

Importing ``envs`` registers the built-in worlds (string entry points, so registration is cheap):

* ``arise_gym/AcmeCorp-v0`` - SRE onboarding at AcmeCorp (logs, metrics API, AcmeConf, incidents)
* ``arise_gym/DataCorp-v0`` - data-engineering onboarding at DataCorp (.dc exports, validation API, DCQL)

Use ``gymnasium.make("arise_gym/AcmeCorp-v0", protocol="rigorous", tools="reference")``.
A new world is one more ``register_world`` call (see ``envs.registry`` and docs/architecture.md).
"""

from envs.registry import ENV_IDS, MAX_EPISODE_STEPS, register_world

register_world(
    "acmecorp",
    "arise_gym/AcmeCorp-v0",
    "envs.acmecorp",
    {"rigorous": "envs.acmecorp.suite:rigorous_suite", "arise_v1": "envs.acmecorp.arise_v1:arise_v1_suite"},
    constant_blob="envs.acmecorp.arise_v1:CONSTANT_BLOB",
)
register_world(
    "datacorp",
    "arise_gym/DataCorp-v0",
    "envs.datacorp",
    {"rigorous": "envs.datacorp.suite:rigorous_suite", "arise_v1": "envs.datacorp.arise_v1:arise_v1_suite"},
    constant_blob="envs.datacorp.arise_v1:CONSTANT_BLOB",
)

__all__ = ["ENV_IDS", "MAX_EPISODE_STEPS", "register_world"]
