"""arise-gym worlds as Gymnasium environments.

Importing ``envs`` registers (string entry points, so registration is cheap):

* ``arise_gym/AcmeCorp-v0`` - SRE onboarding at AcmeCorp (logs, metrics API, AcmeConf, incidents)
* ``arise_gym/DataCorp-v0`` - data-engineering onboarding at DataCorp (.dc exports, validation API, DCQL)

Use ``gymnasium.make("arise_gym/AcmeCorp-v0", protocol="rigorous", tools="reference")``.
"""

from gymnasium.envs.registration import register, registry

MAX_EPISODE_STEPS = 30

ENV_IDS = {"acmecorp": "arise_gym/AcmeCorp-v0", "datacorp": "arise_gym/DataCorp-v0"}

for _world, _env_id in ENV_IDS.items():
    if _env_id not in registry:
        register(
            id=_env_id,
            entry_point="envs.toolenv:ToolUseEnv",
            kwargs={"world": _world},
            max_episode_steps=MAX_EPISODE_STEPS,
        )
