"""The WorkflowGen GraphQL client against the loopback fake (and a silent socket)."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from tests.fakes.graphql_fake import FakeWorkflowGenGraphql, GraphqlError, parse_document
from workflowapp.errors import (
    ConfigurationError,
    ParameterError,
    UpstreamConnectionError,
    UpstreamTimeout,
    WorkflowGenApiError,
)
from workflowapp.settings import Settings
from workflowapp.wfgen_graphql import (
    REQUEST_DATA_QUERY,
    UPDATE_DATA_MUTATION,
    GraphqlConfig,
    WorkflowGenGraphql,
)


@pytest.fixture(scope="module")
def graphql_server() -> Iterator[FakeWorkflowGenGraphql]:
    with FakeWorkflowGenGraphql() as fake:
        yield fake


@pytest.fixture
def graphql(graphql_server: FakeWorkflowGenGraphql) -> FakeWorkflowGenGraphql:
    graphql_server.reset()
    return graphql_server


def client_for(fake: FakeWorkflowGenGraphql, **changes: str) -> WorkflowGenGraphql:
    settings = Settings({**fake.settings(), **changes})
    return WorkflowGenGraphql(GraphqlConfig.from_settings(settings, purpose="test"))


def test_documents_parse_as_graphql() -> None:
    assert parse_document(REQUEST_DATA_QUERY).variables == {"number": "Int!"}
    mutation = parse_document(UPDATE_DATA_MUTATION)
    assert mutation.kind == "mutation"
    assert mutation.variables == {"input": "UpdateRequestDatasetInput!"}


def test_read_and_write_text_data(graphql: FakeWorkflowGenGraphql) -> None:
    graphql.add_request(42, HISTORY='[{"role": "user", "content": "hi"}]', AMOUNT=3.0)
    api = client_for(graphql)
    assert api.read_text(42, "HISTORY") == '[{"role": "user", "content": "hi"}]'
    api.write_text(42, "HISTORY", "[]")
    assert graphql.data(42, "HISTORY") == "[]"
    query, mutation = graphql.calls
    assert (query.operation, query.variables) == ("query", {"number": 42})
    assert mutation.operation == "mutation"
    assert mutation.variables == {"input": {"number": 42, "parameters": [
        {"name": "HISTORY", "textValue": "[]"}]}}
    assert all(call.authorized and call.status == 200 for call in graphql.calls)


def test_empty_text_data_reads_as_none(graphql: FakeWorkflowGenGraphql) -> None:
    graphql.add_request(1, HISTORY=None)
    assert client_for(graphql).read_text(1, "HISTORY") is None


def test_unknown_request_names_request_id(graphql: FakeWorkflowGenGraphql) -> None:
    with pytest.raises(ParameterError) as caught:
        client_for(graphql).read_text(404, "HISTORY")
    assert caught.value.parameter == "REQUEST_ID"
    assert "404" in caught.value.message


def test_unknown_data_lists_the_names(graphql: FakeWorkflowGenGraphql) -> None:
    graphql.add_request(7, CONVERSATION="[]", AMOUNT=1.0)
    with pytest.raises(ParameterError) as caught:
        client_for(graphql).read_text(7, "conversation")
    assert caught.value.parameter == "REQUEST_DATA_NAME"
    assert "CONVERSATION, AMOUNT" in caught.value.message


def test_numeric_data_is_not_a_history(graphql: FakeWorkflowGenGraphql) -> None:
    graphql.add_request(7, AMOUNT=1.0)
    with pytest.raises(ParameterError, match="NumericData, not a TEXT data") as caught:
        client_for(graphql).read_text(7, "AMOUNT")
    assert caught.value.parameter == "REQUEST_DATA_NAME"


def test_wrong_password_is_a_clear_error_without_the_password(
    graphql: FakeWorkflowGenGraphql,
) -> None:
    graphql.add_request(1, HISTORY="[]")
    with pytest.raises(WorkflowGenApiError) as caught:
        client_for(graphql, WorkflowGenPassword="wrong-Pa55").read_text(1, "HISTORY")
    error = caught.value
    assert error.http_status == 401 and error.response_status == "401"
    assert "WorkflowGenUsername and WorkflowGenPassword" in error.message
    assert "wrong-Pa55" not in error.message + (error.body or "")
    assert graphql.calls[0].authorized is False


def test_graphql_errors_array_becomes_the_message(graphql: FakeWorkflowGenGraphql) -> None:
    graphql.fail_next(200, {"errors": [{"message": "Access denied to request 1"}],
                            "data": {"request": None}})
    with pytest.raises(WorkflowGenApiError) as caught:
        client_for(graphql).read_text(1, "HISTORY")
    assert "Access denied to request 1" in caught.value.message
    assert caught.value.response_status == "workflowgen_error"
    assert caught.value.status == 502


def test_mutation_refused_by_the_server(graphql: FakeWorkflowGenGraphql) -> None:
    graphql.add_request(1, AMOUNT=2.0)
    with pytest.raises(WorkflowGenApiError, match="AMOUNT is NUMERIC, not TEXT"):
        client_for(graphql).write_text(1, "AMOUNT", "x")


def test_the_fake_rejects_unknown_fields(graphql: FakeWorkflowGenGraphql) -> None:
    api = client_for(graphql)
    with pytest.raises(WorkflowGenApiError, match='Cannot query field "nope" on type "Request"'):
        api.execute("query($n: Int!) { request(number: $n) { nope } }", {"n": 1})
    with pytest.raises(WorkflowGenApiError, match='used in position expecting type "Int!"'):
        api.execute("query($n: String) { request(number: $n) { id } }", {"n": "1"})
    with pytest.raises(GraphqlError, match="Syntax Error"):
        parse_document("query { request(number: 1) { id }")


@pytest.mark.parametrize(("status", "body", "expected"), [
    (500, "<html>Server Error</html>", "answered HTTP 500; check the WorkflowGenGraphqlUrl"),
    (200, "<html>login</html>", "did not answer a GraphQL JSON document"),
    (302, "", "answered HTTP 302, redirected to"),
])
def test_http_failures(graphql: FakeWorkflowGenGraphql, status: int, body: str,
                       expected: str) -> None:
    graphql.fail_next(status, body)
    with pytest.raises(WorkflowGenApiError, match=expected):
        client_for(graphql).read_text(1, "HISTORY")


def test_connection_refused() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings = Settings({"WorkflowGenGraphqlUrl": f"http://127.0.0.1:{port}/wfgen/graphql",
                         "WorkflowGenUsername": "u", "WorkflowGenPassword": "p"})
    api = WorkflowGenGraphql(GraphqlConfig.from_settings(settings, purpose="test"))
    with pytest.raises(UpstreamConnectionError, match="Cannot reach WorkflowGen's GraphQL API"):
        api.read_text(1, "HISTORY")


def test_timeout() -> None:
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        url = f"http://127.0.0.1:{silent.getsockname()[1]}/wfgen/graphql"
        config = GraphqlConfig(url, "u", "p", connect_timeout=1.0, read_timeout=0.2)
        with pytest.raises(UpstreamTimeout) as caught:
            WorkflowGenGraphql(config).read_text(1, "HISTORY")
    assert caught.value.status == 504
    assert "did not answer within 0.2 s" in caught.value.message


def test_missing_settings_are_named() -> None:
    with pytest.raises(ConfigurationError) as caught:
        GraphqlConfig.from_settings(Settings({"WorkflowGenUsername": "u"}), purpose="X")
    message = caught.value.message
    assert "WorkflowGenGraphqlUrl, WorkflowGenPassword" in message
    assert message.startswith("X needs WorkflowGen's GraphQL API")


@pytest.mark.parametrize("url", ["ftp://wfgen/graphql", "http://u:pw-in-url@wfgen/graphql",
                                 "wfgen", "http://[::1/graphql"])
def test_bad_url_setting(url: str) -> None:
    settings = Settings({"WorkflowGenGraphqlUrl": url, "WorkflowGenUsername": "u",
                         "WorkflowGenPassword": "p"})
    with pytest.raises(ConfigurationError, match="WorkflowGenGraphqlUrl .*expected an http") \
            as caught:
        GraphqlConfig.from_settings(settings, purpose="test")
    assert "pw-in-url" not in caught.value.message


def test_config_repr_hides_the_password() -> None:
    config = GraphqlConfig("http://wfgen/wfgen/graphql", "admin", "TopSecret")
    assert "TopSecret" not in repr(config)
