"""Hostile inputs, fifth round: the gaps round 4 left open, and a fresh hunt, each fixed at its general rule.

- Tokens: a validly signed token with `exp` fifty years ahead was accepted; now the kit refuses one living
  longer than `auth_max_token_lifetime_seconds` (401 naming the claim `exp` and the rule `max_token_lifetime`;
  packages/kit/tests/test_auth_tokens.py, and every service's token-attack test through `attack_authorizations`).
- Exports: `Accept: text/csv;q=NaN` (or `inf`, `-1`, `1.0001`) was read by `float()`; now a weight that is not an
  RFC 9110 qvalue is a 400 naming `Accept` and `qvalue` (services/reporting/tests/unit/exports/test_exports.py).
- Broker: the kit's topic alignment sends its own IncrementalAlterConfigs through aiokafka's private
  `AIOKafkaAdminClient._send_request`: a test here runs that path with no broker, so an aiokafka that moves it
  fails here, not in production's log as a warning nobody reads.
"""

from __future__ import annotations

import inspect
import struct

import pytest
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResourceType
from aiokafka.errors import IncompatibleBrokerVersion, KafkaError
from aiokafka.protocol.admin import DescribeConfigsResponse_v0

from styrkedja_kit import kafka
from styrkedja_kit.kafka import IncrementalAlterConfigsRequest, _align_topic_config

# -- broker: the aiokafka internals the kit's topic alignment leans on ---------------------------------------------


def _string(text: str) -> bytes:
    data = text.encode()
    return struct.pack(">h", len(data)) + data


class _FakeBrokerClient:
    """Stands in for the admin client's `_client` (an AIOKafkaClient): negotiates each request's version with
    aiokafka's own `Request.prepare` against the API versions a broker listed, encodes it as aiokafka would put
    it on the wire, and answers with bytes decoded by aiokafka's own response structs."""

    def __init__(self, versions: dict[int, tuple[int, int]], topic_config: dict[str, dict[str, str]]) -> None:
        self.versions, self.topic_config = versions, topic_config
        self.sent: list[tuple[int, int, int, bytes]] = []  # node, api key, api version, body bytes

    def get_random_node(self) -> int:
        return 7

    async def send(self, node_id: int, request, **_: object):
        prepared = request.prepare(self.versions)
        body = prepared.encode()
        self.sent.append((node_id, prepared.API_KEY, prepared.API_VERSION, body))
        if prepared.API_KEY == 32:  # DescribeConfigs: every topic's settings
            resources = [(0, None, int(ConfigResourceType.TOPIC), name,
                          [(k, v, False, False, False) for k, v in config.items()])
                         for name, config in self.topic_config.items()]
            return DescribeConfigsResponse_v0.decode(DescribeConfigsResponse_v0(0, resources).encode())
        assert prepared.API_KEY == 44
        answer = struct.pack(">ii", 0, len(self.topic_config))
        for name in self.topic_config:
            answer += struct.pack(">hhb", 0, -1, int(ConfigResourceType.TOPIC)) + _string(name)
        return prepared.RESPONSE_TYPE.decode(answer)


def test_the_admin_clients_private_send_request_is_where_it_was():
    """`_align_topic_config` calls `admin._send_request(request)`: a coroutine that takes the request (and a node,
    else a random one) and hands it to the client's `send`."""
    send_request = AIOKafkaAdminClient._send_request
    assert inspect.iscoroutinefunction(send_request)
    parameters = list(inspect.signature(send_request).parameters.values())
    assert [p.name for p in parameters[:3]] == ["self", "request", "node_id"]
    assert parameters[2].default is None


async def test_incremental_alter_configs_goes_out_as_kip_339_says_through_aiokafkas_private_path():
    admin = AIOKafkaAdminClient(bootstrap_servers="127.0.0.1:9")  # never started: no broker, no connection
    fake = _FakeBrokerClient({32: (0, 0), 44: (0, 1)},
                             {"styrkedja.lika": {"message.timestamp.type": "CreateTime", "retention.ms": "1"},
                              "styrkedja.support": {"message.timestamp.type": "LogAppendTime"}})
    admin._client = fake
    altered = await _align_topic_config(admin, ["styrkedja.lika", "styrkedja.support"], kafka.TOPIC_CONFIG)
    assert altered == ["styrkedja.lika"]  # only the one that differs; its other settings are not sent
    (node, key, version, body) = fake.sent[-1]
    assert (node, key, version) == (7, 44, 0)
    # resources[1]: TOPIC "styrkedja.lika", configs[1]: SET message.timestamp.type=LogAppendTime; validate_only false
    expected = (struct.pack(">i", 1) + struct.pack(">b", int(ConfigResourceType.TOPIC)) + _string("styrkedja.lika")
                + struct.pack(">i", 1) + _string("message.timestamp.type") + struct.pack(">b", 0)
                + _string("LogAppendTime") + struct.pack(">b", 0))
    assert body == expected


async def test_a_broker_without_incremental_alter_configs_is_a_warning_not_a_failure(caplog):
    """aiokafka refuses to send an API the broker did not list (`IncompatibleBrokerVersion`, a KafkaError the
    alignment catches): the embedded broker's case."""
    assert issubclass(IncompatibleBrokerVersion, KafkaError)
    with pytest.raises(IncompatibleBrokerVersion):
        IncrementalAlterConfigsRequest(["t"], kafka.TOPIC_CONFIG).prepare({32: (0, 0)})
    admin = AIOKafkaAdminClient(bootstrap_servers="127.0.0.1:9")
    admin._client = _FakeBrokerClient({32: (0, 0)}, {"styrkedja.lika": {"message.timestamp.type": "CreateTime"}})
    assert await _align_topic_config(admin, ["styrkedja.lika"], kafka.TOPIC_CONFIG) == []
    assert "could not align" in caplog.text
