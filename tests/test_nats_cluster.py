"""`deploy/nats-cluster/` for real: three JetStream nodes on loopback, streams with three
replicas, and the order pipeline (two executors, two slwatch partitions) losing a NATS node
and then an executor mid-run without losing or repeating an order (issue 11)."""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.cluster_book import split_symbols
from bench.cluster_failover import Options, run_failover
from bench.pipelineproc import stop_all
from core.embedded.nats_cluster import (
    DEPLOY_DIR,
    NODES,
    ConfigShapeError,
    NatsCluster,
    loopback_config,
)
from core.embedded.stack import Endpoints
from core.nats import connect_nats, split_tls
from core.repos.instruments import bundled_nse_equities
from core.streams import StreamSpecOptions, ensure_streams
from pipeline.slwatch.partition import Partition


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[NatsCluster]:
    """The three nodes, running."""
    nodes = NatsCluster(tmp_path / "nats")
    nodes.start()
    yield nodes
    nodes.stop()


async def test_the_committed_configs_form_a_cluster_with_fsync_always(
        cluster: NatsCluster) -> None:
    for node in cluster.nodes:
        varz = node.monitor("/varz")
        assert varz["server_name"] == node.name
        assert varz["jetstream"]["config"]["sync_always"] is True
    nc = await connect_nats(cluster.url, name="tests-cluster")
    try:
        js = nc.jetstream()
        for attempt in range(40):  # the first meta leader may still be being elected
            try:
                await ensure_streams(js, StreamSpecOptions(replicas=3))
                break
            except Exception:
                if attempt == 39:
                    raise
                await asyncio.sleep(0.25)
        info = await js.stream_info("COMMANDS")
        assert info.config.num_replicas == 3
        assert info.cluster is not None and info.cluster.leader in {"n1", "n2", "n3"}
        assert len(info.cluster.replicas or []) == 2
    finally:
        await nc.close()
    # With a node down, the first connection still succeeds: the URL lists all three.
    cluster.kill(cluster.nodes[0])
    for _ in range(3):
        survivor = await connect_nats(cluster.url, name="tests-cluster")
        try:
            assert survivor.is_connected
            assert survivor.connected_url is not None
            assert survivor.connected_url.port != cluster.nodes[0].port
        finally:
            await survivor.close()


def test_a_config_that_changed_shape_is_refused(tmp_path: Path) -> None:
    nodes = NatsCluster(tmp_path)
    committed = (DEPLOY_DIR / "n1.conf").read_text()
    assert "sync_interval: always" in loopback_config(committed, nodes.nodes[0],
                                                      nodes.nodes[1:])
    with pytest.raises(ConfigShapeError, match="store_dir"):
        loopback_config(committed.replace('store_dir: "/data/jetstream"', ""),
                        nodes.nodes[0], nodes.nodes[1:])


def test_every_slwatch_partition_owns_falling_symbols() -> None:
    symbols = [row["symbol"] for row in bundled_nse_equities()[:20]]
    quiet, falling = split_symbols(symbols, 2)
    assert len(quiet) == len(falling) == 10
    for index in range(2):
        assert any(Partition.parse(f"{index}/2").owns("NSE", s) for s in falling)


async def test_no_order_is_lost_or_repeated_when_a_nats_node_and_an_executor_die(
        cluster: NatsCluster, endpoints: Endpoints, tmp_path: Path) -> None:
    procs: list[subprocess.Popen[bytes]] = []
    try:
        result = await run_failover(cluster, endpoints.database_url, endpoints.redis_url,
                                    tmp_path, Options(seconds=24.0), procs)
    finally:
        await asyncio.to_thread(stop_all, procs)
    summary = {k: v for k, v in result.items() if not k.startswith("run_")}
    assert result["orders_placed"] == result["orders_expected"] == 480, summary
    assert result["orders_lost"] == 0, summary
    assert result["orders_duplicated"] == 0, summary
    assert result["paper_tags_repeated"] == 0, summary
    assert result["orders_not_filled"] == 0, summary
    assert result["strategies_wrong_state"] == 0, summary
    assert result["final_states"] == {"RUNNING/SOLD": 120, "RUNNING/SL_HIT": 120}, summary
    assert result["dlq_messages"] == 0, summary
    # The cluster kept placing orders without the killed node, before it came back.
    assert result["orders_placed_while_down"] > 0, summary
    assert result["stall_s"] < result["node_down_s"], summary
    assert result["killed_executor_pid"] > 0, summary


def test_the_compose_cluster_profile_runs_the_same_three_configs() -> None:
    root = DEPLOY_DIR.parents[1]
    env = dict(line.split("=", 1) for line in (DEPLOY_DIR / "cluster.env").read_text()
               .splitlines() if line and not line.startswith("#"))
    assert env["COMPOSE_PROFILES"] == "cluster"
    assert env["ALGO_STREAM_REPLICAS"] == "3"
    assert (root / env["NATS_CONF"]) == DEPLOY_DIR / "n1.conf"
    servers, tls = split_tls(env["ALGO_NATS_URL"])
    assert servers == [f"nats://{name}:4222" for name in NODES] and tls is None
    compose = (root / "docker-compose.yml").read_text()
    assert "${NATS_CONF:-nats.conf}" in compose and "aliases: [n1]" in compose
    for name in NODES[1:]:
        assert f"./deploy/nats-cluster/{name}.conf:/etc/nats/nats.conf:ro" in compose
