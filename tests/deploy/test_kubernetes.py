"""deploy/k8s: every kustomization rendered by `kubectl kustomize`, each object validated against
the Kubernetes JSON schemas (kubernetes-validate, bundled: offline), then what the schemas cannot
see: probes on the served port, the security context, the Secret and ConfigMap references, and
selectors that select the Deployment's pods."""
from __future__ import annotations

import copy
import json
import re
import shlex
import shutil
import subprocess
from functools import cache
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from app.settings import Settings
from tests.deploy.context import DEPLOY, REPO, stages

K8S = DEPLOY / "k8s"
KUSTOMIZATIONS = sorted(p.parent.relative_to(K8S).as_posix() for p in K8S.rglob("kustomization.yaml"))
OVERLAYS = [k for k in KUSTOMIZATIONS if k.startswith("overlays/")]
# The oldest Kubernetes these manifests claim (deploy/README.md) and the newest schemas bundled.
VERSIONS = ("1.27.0", kubernetes_validate.latest_version())
SECRET = "tessera"


def _kubectl() -> str:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl is not installed (the manifests are rendered with `kubectl kustomize`); "
                    "Debian's kubernetes-client 1.20 is too old for them")
    out = subprocess.run([kubectl, "version", "--client", "-o", "json"], capture_output=True, text=True, timeout=60)
    version = json.loads(out.stdout or "{}").get("clientVersion", {})
    major, minor = version.get("major", "0"), re.sub(r"\D", "", version.get("minor", "0")) or "0"
    if (int(major), int(minor)) < (1, 21):
        pytest.skip(f"kubectl {major}.{minor} embeds kustomize v2, which cannot read these kustomizations (1.21+)")
    return kubectl


@cache
def render(kustomization: str) -> tuple[dict[str, Any], ...]:
    out = subprocess.run([_kubectl(), "kustomize", str(K8S / kustomization)], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    return tuple(d for d in yaml.safe_load_all(out.stdout) if d)


def one(objects: tuple[dict[str, Any], ...], kind: str, name: str | None = None) -> dict[str, Any]:
    found = [o for o in objects if o["kind"] == kind and (name is None or o["metadata"]["name"] == name)]
    assert len(found) == 1, f"{len(found)} {kind} {name or ''}"
    return found[0]


def tessera(objects: tuple[dict[str, Any], ...]) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """The Deployment, its pod spec and the tessera container."""
    deployment = one(objects, "Deployment", "tessera")
    pod = deployment["spec"]["template"]["spec"]
    container = next(c for c in pod["containers"] if c["name"] == "tessera")
    return deployment, pod, container


def selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    assert set(selector) <= {"matchLabels"}, "only matchLabels selectors are used here"
    wanted = selector.get("matchLabels", {})
    return bool(wanted) and all(labels.get(k) == v for k, v in wanted.items())


def test_there_is_a_base_and_a_redis_cluster_overlay() -> None:
    assert "base" in KUSTOMIZATIONS and "overlays/redis-cluster" in KUSTOMIZATIONS


@pytest.mark.parametrize("kustomization", KUSTOMIZATIONS)
def test_every_object_is_valid_against_the_kubernetes_schemas(kustomization: str) -> None:
    objects = render(kustomization)
    kinds = {o["kind"] for o in objects}
    assert {"Deployment", "Service", "PodDisruptionBudget", "HorizontalPodAutoscaler", "NetworkPolicy",
            "ServiceAccount", "ConfigMap"} <= kinds
    for version in VERSIONS:
        for obj in objects:
            kubernetes_validate.validate(obj, version, strict=True)  # raises on any error


def test_the_schema_check_catches_what_it_should() -> None:
    deployment = copy.deepcopy(one(render("base"), "Deployment"))
    deployment["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]["httpGet"]["paht"] = "/readyz"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, VERSIONS[0], strict=True)
    hpa = copy.deepcopy(one(render("base"), "HorizontalPodAutoscaler"))
    hpa["spec"]["minReplicas"] = "two"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(hpa, VERSIONS[0], strict=True)


@pytest.mark.parametrize("kustomization", KUSTOMIZATIONS)
def test_probes_use_readyz_and_healthz_on_the_served_port(kustomization: str) -> None:
    _, _, container = tessera(render(kustomization))
    args = container["args"]
    served = int(args[args.index("--port") + 1])
    assert args[args.index("--host") + 1] == "0.0.0.0"
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert served in ports.values()
    expected = {"readinessProbe": "/readyz", "livenessProbe": "/healthz", "startupProbe": "/healthz"}
    for probe, path in expected.items():
        get = container[probe]["httpGet"]
        assert get["path"] == path, probe
        port = get["port"]
        assert (ports[port] if isinstance(port, str) else port) == served, probe
    # liveness must outlast a readiness blip: it never depends on Redis (/healthz), and it gives up later
    assert container["livenessProbe"]["failureThreshold"] * container["livenessProbe"]["periodSeconds"] > \
        container["readinessProbe"]["failureThreshold"] * container["readinessProbe"]["periodSeconds"]


@pytest.mark.parametrize("kustomization", KUSTOMIZATIONS)
def test_restricted_security_context(kustomization: str) -> None:
    deployment, pod, container = tessera(render(kustomization))
    image_user = stages()[-1].all("USER")[-1].split(":")[0]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert str(pod["securityContext"]["runAsUser"]) == image_user  # the Dockerfile's UID
    sc = container["securityContext"]
    assert sc["runAsNonRoot"] is True
    assert sc["readOnlyRootFilesystem"] is True
    assert sc["allowPrivilegeEscalation"] is False
    assert sc["capabilities"] == {"drop": ["ALL"]}
    assert sc["seccompProfile"] == {"type": "RuntimeDefault"}
    assert pod["automountServiceAccountToken"] is False
    account = one(render(kustomization), "ServiceAccount", pod["serviceAccountName"])
    assert account["automountServiceAccountToken"] is False
    # the only writable place is a size-capped in-memory /tmp
    mounts = {m["mountPath"]: m for m in container["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["volumes"]}
    writable = [p for p, m in mounts.items() if not m.get("readOnly")]
    assert writable == ["/tmp"] and volumes[mounts["/tmp"]["name"]]["emptyDir"]["sizeLimit"]
    limits = container["resources"]["limits"]
    assert limits["memory"] and container["resources"]["requests"]["cpu"]  # the HPA needs CPU requests


@pytest.mark.parametrize("kustomization", KUSTOMIZATIONS)
def test_secrets_come_from_files_of_the_documented_secret(kustomization: str, tmp_path: Path) -> None:
    objects = render(kustomization)
    _, pod, container = tessera(objects)
    assert not [o for o in objects if o["kind"] == "Secret"], "no Secret is committed: it is created with kubectl"
    env = {e["name"]: e for e in container.get("env", [])}
    assert not [n for n, e in env.items() if "valueFrom" in e], "secrets are mounted files, not variables"
    volumes = {v["name"]: v for v in pod["volumes"]}
    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    documented = documented_secret_keys()
    files: dict[str, str] = {}
    for name in ("TESSERA_MASTER_KEY_FILE", "TESSERA_ROOT_ACCESS_KEY_ID_FILE", "TESSERA_ROOT_SECRET_ACCESS_KEY_FILE"):
        path = env[name]["value"]
        directory, _, filename = path.rpartition("/")
        secret = volumes[mounts[directory]]["secret"]
        assert secret["secretName"] == SECRET
        items = {i["path"]: i["key"] for i in secret["items"]}
        assert items[filename] in documented, f"{name} reads key `{items[filename]}`, which the README never creates"
        assert secret["defaultMode"] & 0o007 == 0, "secret files are not world-readable"
        files[name] = items[filename]
    assert set(files.values()) == documented
    # the settings the pod gets (ConfigMap + these files) are ones Tessera starts with
    config = configmap_of(objects, container)
    fake = {"master-key": "bWFzdGVyLWtleS1vZi10aGlydHktdHdvLWJ5dGVzISE=", "root-access-key-id": "AKIAEXAMPLEROOT00001",
            "root-secret-access-key": "x" * 40}
    settings_env = dict(config)
    for name, key in files.items():
        (tmp_path / key).write_text(fake[key] + "\n", encoding="utf-8")
        settings_env[name] = str(tmp_path / key)
    settings = Settings.from_env(settings_env)
    assert settings.master_key is not None and settings.root_access_key_id == "AKIAEXAMPLEROOT00001"


def documented_secret_keys() -> set[str]:
    """The keys of the Secret that deploy/README.md's `kubectl create secret generic tessera` makes."""
    readme = (DEPLOY / "README.md").read_text(encoding="utf-8").replace("\\\n", " ")
    commands = [line for line in readme.splitlines() if f"create secret generic {SECRET}" in line]
    assert commands, "deploy/README.md shows how to create the Secret"
    words = shlex.split(commands[0])
    return {w.split("=", 1)[1].split("=", 1)[0] for w in words if w.startswith("--from-file=")}


def configmap_of(objects: tuple[dict[str, Any], ...], container: dict[str, Any]) -> dict[str, str]:
    refs = [e["configMapRef"]["name"] for e in container["envFrom"]]
    assert len(refs) == 1
    data = one(objects, "ConfigMap", refs[0])["data"]
    assert isinstance(data, dict)
    return data


@pytest.mark.parametrize("kustomization", KUSTOMIZATIONS)
def test_service_pdb_hpa_and_network_policy_select_the_deployments_pods(kustomization: str) -> None:
    objects = render(kustomization)
    deployment, pod, container = tessera(objects)
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert selects(deployment["spec"]["selector"], labels)
    assert "replicas" not in deployment["spec"], "the HorizontalPodAutoscaler owns the replica count"
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}

    service = one(objects, "Service", "tessera")
    assert all(labels.get(k) == v for k, v in service["spec"]["selector"].items()) and service["spec"]["selector"]
    assert all(p["targetPort"] in ports or p["targetPort"] in ports.values() for p in service["spec"]["ports"])

    pdb = one(objects, "PodDisruptionBudget", "tessera")
    assert selects(pdb["spec"]["selector"], labels)
    hpa = one(objects, "HorizontalPodAutoscaler", "tessera")
    target = hpa["spec"]["scaleTargetRef"]
    assert (target["apiVersion"], target["kind"], target["name"]) == ("apps/v1", "Deployment", "tessera")
    assert 2 <= hpa["spec"]["minReplicas"] <= hpa["spec"]["maxReplicas"]
    # a drain never takes every pod, even at the autoscaler's minimum
    assert pdb["spec"]["maxUnavailable"] < hpa["spec"]["minReplicas"]
    # no other Deployment or StatefulSet's pods are selected by Tessera's selectors
    for other in objects:
        if other["kind"] in ("Deployment", "StatefulSet") and other is not deployment:
            other_labels = other["spec"]["template"]["metadata"]["labels"]
            assert not selects(pdb["spec"]["selector"], other_labels)

    policy = one(objects, "NetworkPolicy", "tessera")
    assert selects(policy["spec"]["podSelector"], labels)
    assert sorted(policy["spec"]["policyTypes"]) == ["Egress", "Ingress"]
    (ingress,) = policy["spec"]["ingress"]
    assert [(p["port"], p["protocol"]) for p in ingress["ports"]] in (
        [(ports["http"], "TCP")], [("http", "TCP")])
    egress_ports = {(p["port"], p["protocol"]) for rule in policy["spec"]["egress"] for p in rule["ports"]}
    assert {(53, "UDP"), (53, "TCP"), (443, "TCP"), (6379, "TCP")} <= egress_ports
    https = next(r for r in policy["spec"]["egress"] if (443, "TCP") in {(p["port"], p["protocol"]) for p in r["ports"]})
    blocks = [t["ipBlock"] for t in https["to"]]
    assert any("169.254.0.0/16" in b.get("except", []) for b in blocks), "the cloud metadata address is refused"


def redis_pods(objects: tuple[dict[str, Any], ...]) -> list[dict[str, str]]:
    return [o["spec"]["template"]["metadata"]["labels"] for o in objects
            if o["kind"] == "StatefulSet" and o["spec"]["template"]["metadata"]["labels"].get(
                "app.kubernetes.io/name", "").startswith("redis")]


@pytest.mark.parametrize("kustomization", OVERLAYS)
def test_tessera_may_reach_the_redis_it_is_configured_for(kustomization: str) -> None:
    objects = render(kustomization)
    _, _, container = tessera(objects)
    config = configmap_of(objects, container)
    policy = one(objects, "NetworkPolicy", "tessera")
    redis_rules = [r for r in policy["spec"]["egress"] if (6379, "TCP") in {(p["port"], p["protocol"]) for p in r["ports"]}]
    selectors = [t["podSelector"] for r in redis_rules for t in r["to"] if "podSelector" in t]
    hosts = re.split(r"[,/]", config["TESSERA_REDIS_URL"].split("://", 1)[1])
    for labels in redis_pods(objects):
        assert any(selects(s, labels) for s in selectors), "egress to the overlay's own Redis pods"
    if config["TESSERA_REDIS_URL"].startswith("redis://"):
        service = one(objects, "Service", hosts[0].split(":")[0])
        assert any(selects({"matchLabels": service["spec"]["selector"]}, labels) for labels in redis_pods(objects))
        # Redis accepts Tessera's pods
        redis_policy = one(objects, "NetworkPolicy", "redis")
        tessera_labels = tessera(objects)[0]["spec"]["template"]["metadata"]["labels"]
        assert any(selects(f["podSelector"], tessera_labels) for r in redis_policy["spec"]["ingress"] for f in r["from"])


def test_the_redis_cluster_overlay_waits_for_a_replica_and_runs_more_pods() -> None:
    base, cluster = render("base"), render("overlays/redis-cluster")
    config = configmap_of(cluster, tessera(cluster)[2])
    assert re.fullmatch(r"redis\+cluster://[\w.-]+:\d+(,[\w.-]+:\d+)+", config["TESSERA_REDIS_URL"])
    assert config["TESSERA_REDIS_WAIT_REPLICAS"] == "1"
    assert one(cluster, "HorizontalPodAutoscaler")["spec"]["minReplicas"] > \
        one(base, "HorizontalPodAutoscaler")["spec"]["minReplicas"]
    policy = one(cluster, "NetworkPolicy", "tessera")
    assert any(selects(t["podSelector"], {"app.kubernetes.io/name": "redis-cluster"})
               for r in policy["spec"]["egress"] for t in r["to"] if "podSelector" in t)


def test_the_redis_cluster_overlay_runs_the_cluster_its_url_names() -> None:
    objects = render("overlays/redis-cluster")
    config = configmap_of(objects, tessera(objects)[2])
    nodes = one(objects, "StatefulSet", "redis-cluster")
    headless = one(objects, "Service", nodes["spec"]["serviceName"])
    assert headless["spec"]["clusterIP"] == "None" and headless["spec"]["publishNotReadyAddresses"] is True
    assert selects({"matchLabels": headless["spec"]["selector"]}, nodes["spec"]["template"]["metadata"]["labels"])
    count = nodes["spec"]["replicas"]
    assert count >= 6  # three primaries, a replica each
    names = {f"{nodes['metadata']['name']}-{i}.{headless['metadata']['name']}:6379" for i in range(count)}
    seeds = config["TESSERA_REDIS_URL"].removeprefix("redis+cluster://").split(",")
    assert set(seeds) <= names and len(seeds) >= 2
    job = one(objects, "Job", "redis-cluster-create")
    args = job["spec"]["template"]["spec"]["containers"][0]["args"]
    assert args[0] == "1" and set(args[1:]) == names, "the Job creates the cluster from every node"
    # every node and the Job mount the generated ConfigMap holding the configuration and scripts
    (container,) = nodes["spec"]["template"]["spec"]["containers"]
    assert container["args"][0] == "/etc/redis/redis-cluster.conf"
    for spec in (nodes["spec"]["template"]["spec"], job["spec"]["template"]["spec"]):
        (volume,) = [v for v in spec["volumes"] if "configMap" in v]
        data = one(objects, "ConfigMap", volume["configMap"]["name"])["data"]
        assert set(data) == {"redis-cluster.conf", "redis-cluster-start.sh", "redis-cluster-create.sh"}
        assert data["redis-cluster.conf"] == (DEPLOY / "redis" / "redis-cluster.conf").read_text(encoding="utf-8")
    # the nodes admit Tessera and the Job on 6379, and each other on the bus
    policy = one(objects, "NetworkPolicy", "redis-cluster")
    assert selects(policy["spec"]["podSelector"], nodes["spec"]["template"]["metadata"]["labels"])
    admitted = {(f["podSelector"]["matchLabels"]["app.kubernetes.io/name"], p["port"])
                for r in policy["spec"]["ingress"] for f in r["from"] for p in r["ports"]}
    assert {("tessera", 6379), ("redis-cluster-create", 6379), ("redis-cluster", 16379)} <= admitted


def test_the_single_redis_overlay_keeps_an_aof_on_a_persistent_volume() -> None:
    objects = render("overlays/single-redis")
    redis = one(objects, "StatefulSet", "redis")
    spec = redis["spec"]["template"]["spec"]
    (container,) = spec["containers"]
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert spec["securityContext"]["runAsNonRoot"] is True
    (claim,) = redis["spec"]["volumeClaimTemplates"]
    assert {"name": claim["metadata"]["name"], "mountPath": "/data"} in container["volumeMounts"]
    config_volume = next(v for v in spec["volumes"] if "configMap" in v)
    conf = one(objects, "ConfigMap", config_volume["configMap"]["name"])["data"]["redis.conf"]
    assert conf == (DEPLOY / "redis" / "redis.conf").read_text(encoding="utf-8")
    assert container["command"][:2] == ["redis-server", "/etc/redis/redis.conf"]


def test_overlay_copies_of_the_redis_configuration_are_identical() -> None:
    """kustomize reads no file outside an overlay's folder: the overlays keep copies."""
    copies = list(K8S.rglob("redis*.conf"))
    assert copies
    for path in copies:
        assert path.read_text(encoding="utf-8") == (DEPLOY / "redis" / path.name).read_text(encoding="utf-8"), path


def test_the_image_is_the_projects_version() -> None:
    import tomllib

    version = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]["version"]
    for kustomization in KUSTOMIZATIONS:
        _, _, container = tessera(render(kustomization))
        assert container["image"] == f"tessera:{version}"
