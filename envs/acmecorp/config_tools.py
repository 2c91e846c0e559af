"""Reference tools for AcmeConf (the hand-written tool set of the Config phase).

Plain functions: their signatures and docstrings are their schemas
(``envs.tools.tool_spec``). They take paths and names, never pasted file text, and
reach the world only through ``envs.toolkit`` (``list_files`` / ``read_file``).
Values are returned typed: durations as seconds, lists as lists.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from envs.acmecorp import acmeconf as ac
from envs.toolkit import list_files, read_file


def _view() -> ac.FileView:
    return ac.FileView(list_files, read_file)


def _entries(files: ac.FileView, entry: str) -> list[str]:
    """An entry file, or every .acme file under a directory (lexicographic order)."""
    entry = (entry or ac.ENTRY).strip().lstrip("./")
    if entry in files:
        return [entry]
    prefix = entry.rstrip("/") + "/"
    found = sorted(p for p in files if p.startswith(prefix) and p.endswith(".acme"))
    if not found:
        known = sorted(p for p in files if p.endswith(".acme") and not p.startswith(ac.HISTORY_DIR))
        raise ValueError(f"no AcmeConf file or directory {entry!r}; files: {', '.join(known)}")
    return found


def _load(entry: str) -> ac.Config:
    files = _view()
    env_text = files.get(ac.ENV_PATH, "")
    return ac.load_config(files, _entries(files, entry), env_text)


def _deploys(files: ac.FileView) -> list[ac.Deploy]:
    if ac.DEPLOY_LOG not in files:
        raise ValueError(f"this world has no deploy log ({ac.DEPLOY_LOG})")
    return ac.parse_deploy_log(files[ac.DEPLOY_LOG])


def _service(cfg: ac.Config, service: str) -> dict[str, Any]:
    if service not in cfg.services:
        raise ValueError(f"unknown service {service!r}; services: {', '.join(sorted(cfg.services))}")
    return cfg.services[service]


def _version(files: ac.FileView, version: str, service: str) -> dict[str, Any]:
    """Effective values of ``service`` at a version: a deploy id, 'initial' or 'current'."""
    version = version.strip()
    if version == "current":
        live = f"config/services/{service}.acme"
        if live not in files:
            raise ValueError(f"no file {live!r}")
        env_text = files.get(ac.ENV_PATH, "")
        return ac.load_config(files, [live], env_text).services.get(service, {})
    versions = ac.service_versions(_deploys(files), service)
    if version not in versions:
        raise ValueError(
            f"{version!r} is not a version of {service}; versions (oldest first): {', '.join(versions)}, current"
        )
    return ac.load_snapshot(files, version, service).services.get(service, {})


def acmeconf_effective(service: str, entry: str = ac.ENTRY, deploy: str = "") -> dict[str, Any]:
    """Effective configuration of one service: includes applied, later wins, defaults filled in, ${VAR} resolved.

    Args:
        service: Service name, e.g. 'payments'.
        entry: Entry-point file (or a directory of .acme files) to evaluate; default the deployed tree.
        deploy: Optional deploy id, 'initial' or 'current': evaluate that version of the service's own
            file (config/history/<deploy>/services/<service>.acme) on its own instead of the tree.

    Returns:
        {"service": name, "values": {key: typed value, durations in seconds}, "sources": {key: "file:line"}}
    """
    if deploy:
        return {"service": service, "values": _version(_view(), deploy, service), "sources": {}}
    cfg = _load(entry)
    values = _service(cfg, service)
    return {"service": service, "values": values, "sources": cfg.sources[service]}


def acmeconf_validate(entry: str = ac.ENTRY) -> list[Any]:
    """Validate an AcmeConf tree and list its issues.

    Args:
        entry: Entry-point file (or a directory whose .acme files are all entry points); default the deployed tree.

    Returns:
        list of {code, file, line, service, key, message}, sorted by file and line.
    """
    return [i.to_json() for i in _load(entry).issues]


def acmeconf_diff(deploy_a: str, deploy_b: str, service: str) -> list[Any]:
    """Keys whose effective value differs between two versions of a service's file.

    Args:
        deploy_a: The older version: a deploy id of that service, 'initial' or 'current'.
        deploy_b: The newer version: a deploy id of that service, 'initial' or 'current'.
        service: Service name.

    Returns:
        list of {key, old, new} sorted by key; null stands for "not set".
    """
    files = _view()
    return ac.diff_values(_version(files, deploy_a, service), _version(files, deploy_b, service))


def acmeconf_deploys(service: str = "") -> list[Any]:
    """The config deploy log, oldest first.

    Args:
        service: Only deploys of this service ('' for all).

    Returns:
        list of {deploy_id, ts, service, author, kind, summary}.
    """
    return [d.to_json() for d in _deploys(_view()) if not service or d.service == service]


def acmeconf_graph(entry: str = ac.ENTRY) -> dict[str, Any]:
    """The dependency graph of the evaluated tree.

    Args:
        entry: Entry-point file (or directory); default the deployed tree.

    Returns:
        {service: [deps that are declared services]} (undeclared names are left out).
    """
    return _load(entry).graph()


def acmeconf_dependents(service: str, entry: str = ac.ENTRY) -> list[Any]:
    """Services that depend on a service directly or transitively (through deps).

    Args:
        service: Service name.
        entry: Entry-point file (or directory); default the deployed tree.

    Returns:
        sorted list of service names (the service itself appears only if it is on a cycle).
    """
    cfg = _load(entry)
    _service(cfg, service)
    return cfg.dependents(service)


def acmeconf_variables(entry: str = ac.ENTRY) -> list[Any]:
    """Every ${VAR} reference in the evaluated files and how it resolved.

    Args:
        entry: Entry-point file (or directory); default the deployed tree.

    Returns:
        list of {name, default, source ('env' | 'default' | 'unresolved'), value, file, line, service, key}.
    """
    return [v.to_json() for v in _load(entry).variables]


def acmeconf_table(key: str, entry: str = ac.ENTRY) -> dict[str, Any]:
    """One key's effective value for every service.

    Args:
        key: Config key, e.g. 'replicas' or 'timeout'.
        entry: Entry-point file (or directory); default the deployed tree.

    Returns:
        {service: value or null when the service has no valid value}.
    """
    return {svc: vals.get(key) for svc, vals in _load(entry).services.items()}


CONFIG_TOOLS: list[Callable[..., Any]] = [
    acmeconf_effective,
    acmeconf_validate,
    acmeconf_diff,
    acmeconf_deploys,
    acmeconf_graph,
    acmeconf_dependents,
    acmeconf_variables,
    acmeconf_table,
]
