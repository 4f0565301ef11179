"""deploy/helm/sessiongraph, rendered by Helm's own engine and checked as Kubernetes would check it.

No cluster and no helm binary here: helm-python-sdk (PyPI) is Helm v4's Go SDK built as a library,
so `render` is `helm template` (values.schema.json applied, hooks rendered), and `lint` is `helm
lint`; kubernetes-validate (PyPI) holds the Kubernetes API's JSON schemas, against which every
rendered object is checked strictly (an unknown field is an error) for the oldest Kubernetes the
chart supports and the newest. Then the properties the deployment relies on are asserted on the
rendered objects: probes, security context, the migration hook, the drain's grace, HPA and PDB.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import helm_python as helm
import kubernetes_validate
import pytest
import yaml

from sessiongraph.infrastructure.settings import Settings
from sessiongraph.server.cli import COMMANDS

ROOT = Path(__file__).resolve().parent.parent
CHART = ROOT / "deploy" / "helm" / "sessiongraph"
# The least an install must say: the secrets the service cannot run without.
MINIMAL = {"secrets": {"jwtSecret": "0123456789abcdef0123456789abcdef", "redisUrl": "redis://redis:6379/0",
                       "databaseUrl": "postgresql://sessiongraph:password@postgres:5432/sessiongraph"}}
PRODUCTION = yaml.safe_load((CHART / "ci" / "production-values.yaml").read_text())
VALUES = {"minimal": MINIMAL, "production": PRODUCTION}
# The chart's kubeVersion floor, and the newest schemas kubernetes-validate ships.
KUBERNETES_VERSIONS = ("1.25.0", kubernetes_validate.utils.latest_version())
SETTINGS = {name.upper() for name in Settings.model_fields}
COMPONENTS = ("http", "websocket")


def render(values: dict[str, Any]) -> list[dict[str, Any]]:
    with helm.Chart.load(str(CHART)) as chart:
        manifests = chart.render(values, name="sg", namespace="learning", is_install=True)
    return [document for text in manifests.values() for document in yaml.safe_load_all(text) if document]


@pytest.fixture(scope="module", params=sorted(VALUES))
def rendered(request) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    values = VALUES[request.param]
    return values, render(values)


def of_kind(objects: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [o for o in objects if o["kind"] == kind]


def named(objects: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    (found,) = [o for o in of_kind(objects, kind) if o["metadata"]["name"] == name]
    return found


def deployment(objects: list[dict[str, Any]], component: str) -> dict[str, Any]:
    return named(objects, "Deployment", f"sg-sessiongraph-{component}")


def pod_specs(objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [o["spec"]["template"]["spec"] for o in objects if o["kind"] in ("Deployment", "Job")]


def hook_weight(obj: dict[str, Any]) -> int | None:
    annotations = obj["metadata"].get("annotations") or {}
    return int(annotations.get("helm.sh/hook-weight", 0)) if "helm.sh/hook" in annotations else None


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_every_rendered_object_is_valid_for_kubernetes(rendered, version):
    _, objects = rendered
    kinds = {o["kind"] for o in objects}
    assert {"Deployment", "Service", "ConfigMap", "Job", "HorizontalPodAutoscaler", "PodDisruptionBudget"} <= kinds
    for obj in objects:
        kubernetes_validate.validate(obj, version, strict=True)


@pytest.mark.parametrize("name", sorted(VALUES))
def test_helm_lint_finds_nothing_to_warn_about(name):
    report = helm.lint(str(CHART), values=VALUES[name], strict=True, kube_version="v1.25.0")
    assert report["errors"] == []
    assert [m for m in report["messages"] if m["severity"] >= 2] == []


def test_each_deployment_serves_with_probes_on_healthz_and_readyz(rendered):
    _, objects = rendered
    for component in COMPONENTS:
        (container,) = deployment(objects, component)["spec"]["template"]["spec"]["containers"]
        assert container["command"][:2] == ["sessiongraph", "serve"] and "serve" in COMMANDS
        (port,) = container["ports"]
        assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": port["name"]}
        assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": port["name"]}
        assert container["startupProbe"]["httpGet"] == {"path": "/healthz", "port": port["name"]}
        # A prober gives up later than the service's own bound on the database check.
        assert container["readinessProbe"]["timeoutSeconds"] > Settings.model_fields[
            "readiness_timeout_seconds"].default
        assert container["resources"]["requests"] and container["resources"]["limits"]["memory"]


def test_each_deployment_has_a_service_of_its_own(rendered):
    _, objects = rendered
    for component in COMPONENTS:
        pods = deployment(objects, component)["spec"]["template"]["metadata"]["labels"]
        service = named(objects, "Service", f"sg-sessiongraph-{component}")
        assert service["spec"]["selector"].items() <= pods.items()
        others = [deployment(objects, c)["spec"]["template"]["metadata"]["labels"] for c in COMPONENTS if c != component]
        assert not any(service["spec"]["selector"].items() <= labels.items() for labels in others)


def test_the_pods_run_unprivileged_on_a_read_only_root_with_tmp_writable(rendered):
    _, objects = rendered
    for spec in pod_specs(objects):
        assert spec["securityContext"]["runAsNonRoot"] is True
        assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
        assert spec["automountServiceAccountToken"] is False
        volumes = {volume["name"]: volume for volume in spec["volumes"]}
        for container in spec["containers"]:
            context = container["securityContext"]
            assert context["readOnlyRootFilesystem"] is True
            assert context["allowPrivilegeEscalation"] is False
            assert context["runAsNonRoot"] is True
            assert context["capabilities"] == {"drop": ["ALL"]}
            assert context["seccompProfile"] == {"type": "RuntimeDefault"}
            # The one writable place: uploads being parsed and XLSX exports being written (tempfile).
            (mount,) = container["volumeMounts"]
            assert mount["mountPath"] == "/tmp" and "emptyDir" in volumes[mount["name"]]


def test_the_migration_job_runs_before_the_rollout_on_what_exists_by_then(rendered):
    values, objects = rendered
    (job,) = of_kind(objects, "Job")
    annotations = job["metadata"]["annotations"]
    assert set(annotations["helm.sh/hook"].split(",")) == {"pre-install", "pre-upgrade"}
    (container,) = job["spec"]["template"]["spec"]["containers"]
    assert container["command"] == ["sessiongraph", "migrate"] and "migrate" in COMMANDS
    assert job["spec"]["template"]["spec"]["restartPolicy"] == "Never"
    # Hooks run before the release's other objects exist: what the Job reads is a hook made before it,
    # or a Secret made outside the chart.
    for source in container["envFrom"]:
        kind, reference = ("ConfigMap", source["configMapRef"]) if "configMapRef" in source else (
            "Secret", source["secretRef"])
        if reference["name"] == values["secrets"].get("existingSecret"):
            continue
        made = named(objects, kind, reference["name"])
        assert hook_weight(made) is not None and hook_weight(made) < hook_weight(job)
        assert "hook-succeeded" in made["metadata"]["annotations"]["helm.sh/hook-delete-policy"]
    # What the Job reads is what the pods read.
    config = named(objects, "ConfigMap", "sg-sessiongraph")
    assert named(objects, "ConfigMap", container["envFrom"][0]["configMapRef"]["name"])["data"] == config["data"]


def test_the_drain_gets_its_grace_and_the_websocket_pods_the_longest(rendered):
    values, objects = rendered
    grace = {}
    for component in COMPONENTS:
        spec = deployment(objects, component)["spec"]["template"]["spec"]
        (container,) = spec["containers"]
        env = {variable["name"]: variable["value"] for variable in container["env"]}
        drain, timeout = float(env["SHUTDOWN_DRAIN_SECONDS"]), float(env["SHUTDOWN_TIMEOUT_SECONDS"])
        assert (drain, timeout) == (values.get(component, {}).get("drainSeconds", drain),
                                    values.get(component, {}).get("shutdownTimeoutSeconds", timeout))
        # Kubernetes kills at the end of the grace: the drain, the requests in flight, and room for the rest.
        assert spec["terminationGracePeriodSeconds"] >= drain + timeout + 5
        grace[component] = spec["terminationGracePeriodSeconds"]
    assert grace["websocket"] > grace["http"]


def test_each_deployment_is_autoscaled_or_fixed_and_kept_up_through_disruptions(rendered):
    values, objects = rendered
    for component in COMPONENTS:
        target = deployment(objects, component)
        autoscalers = [h for h in of_kind(objects, "HorizontalPodAutoscaler")
                       if h["spec"]["scaleTargetRef"]["name"] == target["metadata"]["name"]]
        if values.get(component, {}).get("autoscaling", {}).get("enabled", True):
            (autoscaler,) = autoscalers
            assert autoscaler["apiVersion"] == "autoscaling/v2"
            assert autoscaler["spec"]["scaleTargetRef"]["kind"] == "Deployment"
            assert 1 <= autoscaler["spec"]["minReplicas"] <= autoscaler["spec"]["maxReplicas"]
            assert "replicas" not in target["spec"]  # the autoscaler's to set, not each upgrade's
        else:
            assert autoscalers == [] and target["spec"]["replicas"] == values[component]["replicas"]
        pods = target["spec"]["template"]["metadata"]["labels"]
        (budget,) = [p for p in of_kind(objects, "PodDisruptionBudget")
                     if p["spec"]["selector"]["matchLabels"].items() <= pods.items()]
        assert budget["apiVersion"] == "policy/v1" and budget["spec"]["maxUnavailable"]


def test_every_variable_the_pods_get_is_a_setting_the_service_reads(rendered):
    _, objects = rendered
    for config_map in of_kind(objects, "ConfigMap"):
        assert set(config_map["data"]) <= SETTINGS
    for secret in of_kind(objects, "Secret"):
        assert set(secret["data"]) <= SETTINGS
    for spec in pod_specs(objects):
        for container in spec["containers"]:
            assert {variable["name"] for variable in container.get("env", ())} <= SETTINGS


def test_secrets_stay_out_of_the_config_map_and_an_existing_secret_replaces_the_charts():
    minimal, production = render(MINIMAL), render(PRODUCTION)
    secret = named(minimal, "Secret", "sg-sessiongraph")
    assert {"JWT_SECRET", "DATABASE_URL", "REDIS_URL"} <= set(secret["data"])
    assert not {"JWT_SECRET", "DATABASE_URL", "REDIS_URL", "SMTP_URL"} & set(
        named(minimal, "ConfigMap", "sg-sessiongraph")["data"])
    assert of_kind(production, "Secret") == []
    for spec in pod_specs(production):
        (container,) = spec["containers"]
        assert {"secretRef": {"name": "sessiongraph-production"}} in container["envFrom"]


def test_the_ingress_sends_websocket_clients_of_their_own_host_to_the_websocket_pods():
    (ingress,) = of_kind(render(PRODUCTION), "Ingress")
    services = {rule["host"]: rule["http"]["paths"][0]["backend"]["service"]["name"]
                for rule in ingress["spec"]["rules"]}
    assert services == {"learn.example.com": "sg-sessiongraph-http",
                        "live.learn.example.com": "sg-sessiongraph-websocket"}


def with_change(values: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    changed = copy.deepcopy(values)
    *parents, leaf = path.split(".")
    node = changed
    for key in parents:
        node = node.setdefault(key, {})
    node[leaf] = value
    return changed


@pytest.mark.parametrize(("path", "value", "named_in_error"), [
    ("secrets.jwtSecret", "too-short", "/secrets/jwtSecret"),
    ("secrets.databaseUrl", "mysql://db/sessiongraph", "/secrets/databaseUrl"),
    ("http.drainSeconds", -1, "/http/drainSeconds"),
    ("websocket.workers", "2", "/websocket/workers"),
    ("config.databasePooler", "pgpool", "/config/databasePooler"),
    ("config.publicUrl", "learn.example.com", "/config/publicUrl"),
    ("config.extra.max_page_size", "50", "max_page_size"),
    ("config.oidcIssuer", "https://id.example.com", "/config/oidcAudience"),
    ("http.autoscaling.enabeld", True, "enabeld"),
    ("image.pullPolicy", "Sometimes", "/image/pullPolicy"),
])
def test_values_that_break_the_schema_are_refused_naming_the_value(path, value, named_in_error):
    with pytest.raises(helm.HelmValuesError) as refused:
        render(with_change(MINIMAL, path, value))
    assert named_in_error in str(refused.value)


def test_the_default_values_alone_are_refused_naming_the_missing_secrets():
    with pytest.raises(helm.HelmValuesError) as refused:
        render({})
    for missing in ("/secrets/jwtSecret", "/secrets/databaseUrl", "/secrets/redisUrl", "/secrets/existingSecret"):
        assert missing in str(refused.value)
