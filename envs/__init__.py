"""arise-gym worlds as Gymnasium environments.

Importing ``envs`` registers (string entry points, so registration is cheap):

* ``arise_gym/AcmeCorp-v0`` - SRE onboarding at AcmeCorp (logs, metrics API, AcmeConf, incidents)

Use ``gymnasium.make("arise_gym/AcmeCorp-v0", protocol="rigorous", tools="reference")``.
"""

from gymnasium.envs.registration import register, registry

MAX_EPISODE_STEPS = 30

if "arise_gym/AcmeCorp-v0" not in registry:
    register(
        id="arise_gym/AcmeCorp-v0",
        entry_point="envs.toolenv:ToolUseEnv",
        kwargs={"world": "acmecorp"},
        max_episode_steps=MAX_EPISODE_STEPS,
    )
