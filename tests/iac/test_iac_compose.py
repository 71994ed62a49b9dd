"""local/compose.yaml: valid against the Compose Specification's JSON schema, and consistent
with functions/settings.py and the invoke stack (service names, ports, setting names)."""

from __future__ import annotations

import hashlib
import json
import re
import shlex
import tomllib

import jsonschema
import pytest
import yaml

import iacutil as u
from functions.settings import Settings, env_names

COMPOSE = u.ROOT / "local" / "compose.yaml"
SCHEMA = u.ROOT / "tests" / "iac" / "compose-spec.schema.json"
SCHEMA_SHA256 = "56bab44c85c0ce8affb74474950293f37d510673283a243bcd7eeadb900fa35c"

PYTHON_SERVICES = {"init", "edge-a", "edge-b", "esm", "gateway", "attachment-check"}
EDGES = {"edge-a", "edge-b"}
ALL_SERVICES = PYTHON_SERVICES | {"kafka", "dynalite", "s3", "lb"}


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


def _interpolate(value: str) -> str:
    """Compose's ${VAR:-default} with nothing set in the environment."""
    return re.sub(r"\$\{[A-Za-z_][A-Za-z0-9_]*:-([^}]*)\}", r"\1", str(value))


def _env(service: dict) -> dict[str, str]:
    env = service.get("environment", {})
    assert isinstance(env, dict), "use the mapping form of environment"
    return {k: _interpolate(v) for k, v in env.items()}


def _host_ports(service: dict) -> set[int]:
    return {int(str(p).split(":")[0]) for p in service.get("ports", [])}


def test_schema_file_is_the_vendored_one():
    assert hashlib.sha256(SCHEMA.read_bytes()).hexdigest() == SCHEMA_SHA256


def test_compose_file_is_valid(compose):
    schema = json.loads(SCHEMA.read_text())
    validator = jsonschema.Draft201909Validator(schema)
    errors = sorted(validator.iter_errors(compose), key=lambda e: list(e.absolute_path))
    assert not errors, "\n".join(f"{list(e.absolute_path)}: {e.message}" for e in errors)


def test_schema_rejects_a_broken_file(compose):
    """The validation has teeth: a typo'd key is an error."""
    broken = json.loads(json.dumps(compose))
    broken["services"]["edge-a"]["enviroment"] = {"X": "1"}
    schema = json.loads(SCHEMA.read_text())
    assert list(jsonschema.Draft201909Validator(schema).iter_errors(broken))


def test_services(compose):
    assert set(compose["services"]) == ALL_SERVICES
    assert re.match(r"^apache/kafka:4\.", compose["services"]["kafka"]["image"])
    for name in PYTHON_SERVICES:
        build = compose["services"][name]["build"]
        assert (COMPOSE.parent / build["context"] / build["dockerfile"]).is_file()
    dyn = compose["services"]["dynalite"]["build"]
    assert (COMPOSE.parent / dyn["context"] / dyn["dockerfile"]).is_file()


@pytest.mark.parametrize("name", sorted(PYTHON_SERVICES))
def test_python_services_use_real_setting_names(compose, name):
    env = _env(compose["services"][name])
    unknown = {k for k in env if k not in env_names() and k != "PYTHONUNBUFFERED"}
    assert not unknown, f"{name}: {sorted(unknown)} are not in functions/settings.py"
    settings = Settings.from_env(env)  # raises SettingsError on nonsense
    assert settings.kafka_bootstrap == "kafka:19092"
    assert settings.dynamodb_endpoint == "http://dynalite:8000"


def test_settings_match_the_defaults_the_code_expects(compose):
    env = _env(compose["services"]["esm"])
    s, d = Settings.from_env(env), Settings()
    assert (s.chat_topic, s.dead_letter_topic, s.partitions, s.consumer_group, s.table_prefix) == \
           (d.chat_topic, d.dead_letter_topic, d.partitions, d.consumer_group, d.table_prefix)


def _binds(command: list[str]) -> list[int]:
    return [int(command[i + 1].rsplit(":", 1)[1]) for i, a in enumerate(command) if a == "--bind"]


@pytest.mark.parametrize("name", sorted(EDGES))
def test_edge_ports_and_delivery_url(compose, name):
    svc = compose["services"][name]
    env = _env(svc)
    public, internal = _binds(svc["command"])
    assert env["TIDINGS_EDGE_ID"] == name
    assert int(env["TIDINGS_EDGE_INTERNAL_PORT"]) == internal
    assert env["TIDINGS_EDGE_DELIVERY_URL"] == f"http://{name}:{internal}"
    assert _host_ports(svc) == {public}, "only the public port is published; the delivery port stays inside"
    assert [int(p) for p in svc.get("expose", [])] == [internal]
    assert "websocket_edge.app:get_app()" in svc["command"]


def test_ports_match_the_invoke_stack(compose):
    from local.stack.components import COMPONENTS

    specs = {spec.name: spec for spec in COMPONENTS}
    services = compose["services"]
    for name in ("edge-a", "edge-b"):
        ports = specs[name].ports if hasattr(specs[name], "ports") else specs[name][1]
        public, internal = _binds(services[name]["command"])
        assert (public, internal) == (ports["public"], ports["internal"]), name
    assert _host_ports(services["dynalite"]) == {list(specs["dynalite"].ports.values())[0]}
    assert specs["kafka"].ports["client"] in _host_ports(services["kafka"])
    assert _host_ports(services["esm"]) == {specs["esm"].ports["metrics"]}
    assert "--metrics-port" in services["esm"]["command"]
    if "gateway" in specs:
        assert _host_ports(services["gateway"]) == {specs["gateway"].ports["http"]}
    assert _host_ports(services["gateway"]) == {8080}


def test_runner_and_gateway_commands(compose):
    esm = compose["services"]["esm"]["command"]
    assert esm[:3] == ["python", "-m", "local.emulators.esm"]
    assert esm[esm.index("--handler") + 1] == "functions.chat_worker.handler"
    assert compose["services"]["gateway"]["command"][:3] == ["python", "-m", "local.emulators.gateway"]
    for name, module in (("esm", "esm"), ("gateway", "gateway")):
        source = (u.ROOT / "local" / "emulators" / f"{module}.py").read_text()
        for flag in (a for a in compose["services"][name]["command"] if a.startswith("--")):
            assert f'"{flag}"' in source, f"{name}: local/emulators/{module}.py has no {flag} option"
    init = compose["services"]["init"]
    assert init["restart"] == "no"
    for name in PYTHON_SERVICES - {"init"}:
        assert compose["services"][name]["depends_on"]["init"]["condition"] == "service_completed_successfully"


def test_load_balancer_spreads_websockets_over_both_edges(compose):
    lb = compose["services"]["lb"]
    conf = (COMPOSE.parent / "docker" / "nginx.conf").read_text()
    assert any(v.startswith("./docker/nginx.conf:") for v in lb["volumes"])
    upstream = re.search(r"upstream edges \{(.*?)\}", conf, re.S).group(1)
    servers = set(re.findall(r"server\s+([\w-]+):(\d+)", upstream))
    wanted = {(name, str(_binds(compose["services"][name]["command"])[0])) for name in EDGES}
    assert servers == wanted
    assert "proxy_set_header Upgrade $http_upgrade" in conf
    read_timeout = int(re.search(r"proxy_read_timeout (\d+)s", conf).group(1))
    assert read_timeout > Settings().idle_timeout_s, "the edge, not the proxy, must end idle sockets"
    assert set(lb["depends_on"]) == EDGES


def test_kafka_is_a_single_kraft_node(compose):
    env = compose["services"]["kafka"]["environment"]
    assert all(k.startswith("KAFKA_") for k in env)
    assert env["KAFKA_PROCESS_ROLES"] == "broker,controller"
    assert env["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"  # the init job creates them
    assert "INTERNAL://kafka:19092" in env["KAFKA_ADVERTISED_LISTENERS"]


def test_dockerfile_installs_the_project_dependencies():
    text = (u.ROOT / "websocket_edge" / "docker" / "python.Dockerfile").read_text()
    assert "pyproject.toml" in text and "tomllib" in text
    # TIDINGS_KAFKA_SECURITY=iam needs the signer: a pinned project dependency, so the image has it
    pyproject = tomllib.loads((u.ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    assert any(d.startswith("aws-msk-iam-sasl-signer-python==") for d in pyproject)
    cmd = re.search(r'CMD (\[.*?\])\n', text, re.S).group(1)
    args = json.loads(cmd.replace("\\\n", ""))
    assert _binds(args) == [8001, 8101]
    assert shlex.join(args).count("websocket_edge.app:get_app()") == 1


# --- the 3-broker profile: local/compose.cluster.yaml on top of compose.yaml -------------------

CLUSTER = u.ROOT / "local" / "compose.cluster.yaml"
KAFKA_NODES = ("kafka", "kafka-2", "kafka-3")


def _merge(base, override):
    """Compose's merge of an override file: mappings merged key by key, sequences (ports,
    volumes) appended, anything else replaced."""
    if isinstance(base, dict) and isinstance(override, dict):
        return {**base, **{k: _merge(base[k], v) if k in base else v for k, v in override.items()}}
    if isinstance(base, list) and isinstance(override, list):
        return base + [v for v in override if v not in base]
    return override


@pytest.fixture(scope="module")
def cluster(compose) -> dict:
    return _merge(compose, yaml.safe_load(CLUSTER.read_text()))


def test_cluster_profile_and_the_merged_file_are_valid():
    schema = json.loads(SCHEMA.read_text())
    override = yaml.safe_load(CLUSTER.read_text())
    merged = _merge(yaml.safe_load(COMPOSE.read_text()), override)
    for what, doc in (("compose.cluster.yaml", override), ("merged", merged)):
        errors = list(jsonschema.Draft201909Validator(schema).iter_errors(doc))
        assert not errors, f"{what}: " + "\n".join(f"{list(e.absolute_path)}: {e.message}" for e in errors)
    assert set(merged["services"]) == ALL_SERVICES | {"kafka-2", "kafka-3"}


def test_cluster_profile_is_one_quorum_of_three_nodes(cluster):
    envs = {name: cluster["services"][name]["environment"] for name in KAFKA_NODES}
    assert sorted(int(env["KAFKA_NODE_ID"]) for env in envs.values()) == [1, 2, 3]
    voters = {f"{env['KAFKA_NODE_ID']}@{name}:9093" for name, env in envs.items()}
    for name, env in envs.items():
        assert env["KAFKA_PROCESS_ROLES"] == "broker,controller"
        assert set(env["KAFKA_CONTROLLER_QUORUM_VOTERS"].split(",")) == voters
        assert "KAFKA_CONTROLLER_QUORUM_BOOTSTRAP_SERVERS" not in env
        assert f"INTERNAL://{name}:19092" in env["KAFKA_ADVERTISED_LISTENERS"]
    assert len({env["CLUSTER_ID"] for env in envs.values()}) == 1, "one cluster id for every node"
    data = {v for name in KAFKA_NODES for v in cluster["services"][name]["volumes"]}
    assert len(data) == 3, "each node has its own data volume"


def test_cluster_profile_replicates_as_the_contract_says(cluster):
    from functions.kafka_cluster import CONTRACT

    for name in KAFKA_NODES:
        env = cluster["services"][name]["environment"]
        assert int(env["KAFKA_DEFAULT_REPLICATION_FACTOR"]) == CONTRACT.factor
        assert int(env["KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR"]) == CONTRACT.factor
        assert int(env["KAFKA_MIN_INSYNC_REPLICAS"]) == CONTRACT.min_insync
        assert int(env["KAFKA_TRANSACTION_STATE_LOG_MIN_ISR"]) == CONTRACT.min_insync
        assert env["KAFKA_UNCLEAN_LEADER_ELECTION_ENABLE"] == str(CONTRACT.unclean_leader_election).lower()


def test_cluster_profile_gives_every_client_every_broker(cluster):
    from local.stack.kafka_cluster import node_ports

    for name in PYTHON_SERVICES:
        settings = Settings.from_env(_env(cluster["services"][name]))
        assert set(settings.kafka_bootstrap.split(",")) == {f"{n}:19092" for n in KAFKA_NODES}, name
        assert settings.brokers == 3, name
    for node_id, name in enumerate(KAFKA_NODES, start=1):
        assert node_ports(node_id)["client"] in _host_ports(cluster["services"][name])
    init = cluster["services"]["init"]["depends_on"]
    assert all(init[n]["condition"] == "service_healthy" for n in KAFKA_NODES), "topics need all three brokers"


def test_local_s3_matches_the_invoke_stack(compose):
    """The s3 image runs the same server script, s3rver version, CORS file, bucket and
    notification target as local/stack/s3rver.py; the gateway presigns for the browser's host."""
    from local.stack import s3rver
    from local.stack.components import COMPONENTS

    specs = {spec.name: spec for spec in COMPONENTS}
    services = compose["services"]
    dockerfile = (COMPOSE.parent / services["s3"]["build"]["context"] / services["s3"]["build"]["dockerfile"]).read_text()
    assert f"ARG S3RVER_VERSION={s3rver.S3RVER_VERSION}" in dockerfile
    assert "local/emulators/s3_server.js local/emulators/s3rver-cors.xml" in dockerfile
    assert s3rver.CORS_FILE.name == "s3rver-cors.xml" and s3rver.CORS_FILE.is_file()
    assert f'"--bucket", "{Settings().attachments_bucket}"' in dockerfile
    check = services["attachment-check"]["command"]
    assert check[check.index("--port") + 1] == "9402" == str(specs["attachment-check"].ports["http"])
    assert '"--notify", "http://attachment-check:9402/invoke", "--notify-prefix", "rooms/"' in dockerfile
    assert _host_ports(services["s3"]) == {specs["s3"].ports["http"]}
    assert _env(services["attachment-check"])["TIDINGS_S3_ENDPOINT"] == "http://s3:9000"
    assert _env(services["gateway"])["TIDINGS_S3_ENDPOINT"] == f"http://localhost:{specs['s3'].ports['http']}"



def test_local_store_matches_the_invoke_stack(compose):
    """The dynalite image runs the same launcher and version as local/stack/dynalite.py, and its
    build context holds the launcher (.dockerignore lets it in)."""
    from local.stack import dynalite

    build = compose["services"]["dynalite"]["build"]
    context = COMPOSE.parent / build["context"]
    dockerfile = (context / build["dockerfile"]).read_text()
    launcher = dynalite.SERVER_JS.relative_to(context.resolve()).as_posix()
    assert f"ARG DYNALITE_VERSION={dynalite.DYNALITE_VERSION}" in dockerfile
    assert f"COPY {launcher} /app/" in dockerfile
    assert f'ENTRYPOINT ["node", "/app/{dynalite.SERVER_JS.name}"' in dockerfile
    ignore = (context / f"{build['dockerfile']}.dockerignore").read_text().split()
    assert f"!{launcher}" in ignore
