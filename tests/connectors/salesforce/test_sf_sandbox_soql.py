"""SOQL subset: what parses, what matches, and what Salesforce would reject."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connectors.salesforce.sandbox.errors import SalesforceError
from connectors.salesforce.sandbox.soql import parse
from connectors.salesforce.sandbox.soql_eval import plan
from connectors.salesforce.sandbox.store import Store

NOW = datetime(2024, 6, 3, 12, 0, 0, tzinfo=UTC)


@pytest.fixture
def store() -> Store:
    """Five contacts with known values; the clock is frozen at NOW for all writes."""
    clock = {"now": datetime(2024, 1, 1, tzinfo=UTC)}
    s = Store(clock=lambda: clock["now"])
    account = s.create(s.type_named("Account"), {"Name": "Acme Inc."})
    rows = [
        ("Ada", "Lovelace", "ada@example.com", "+44 20 7946 0001", 3),
        ("Alan", "Turing", "alan@example.org", None, 5),
        ("Grace", "Hopper", None, "(415) 555-0132", 10),
        (None, "O'Brien", "obrien@example.net", "030 12345678", 20),
        ("Edsger", "Dijkstra", "edsger_d@example.com", None, 28),
    ]
    for first, last, email, phone, day in rows:
        clock["now"] = datetime(2024, 1, day, 8, 30, tzinfo=UTC)
        s.create(
            s.type_named("Contact"),
            {
                "FirstName": first,
                "LastName": last,
                "Email": email,
                "Phone": phone,
                "AccountId": account["Id"] if day < 10 else None,
                "Birthdate": f"1990-01-{day:02d}",
            },
        )
    clock["now"] = NOW
    return s


def last_names(store: Store, soql: str, *, include_deleted: bool = False) -> list[str]:
    result = plan(parse(soql), store, include_deleted=include_deleted)
    table = store.records[result.sobject.name]
    return [table[i]["LastName"] for i in result.ids]


MATCHES = [
    (
        "all_in_insertion_order",
        "SELECT Id FROM Contact",
        ["Lovelace", "Turing", "Hopper", "O'Brien", "Dijkstra"],
    ),
    (
        "keywords_and_names_are_case_insensitive",
        "select id from contact where lastname = 'TURING'",
        ["Turing"],
    ),
    (
        "string_equality_ignores_case",
        "SELECT Id FROM Contact WHERE Email = 'ADA@EXAMPLE.COM'",
        ["Lovelace"],
    ),
    ("escaped_quote", r"SELECT Id FROM Contact WHERE LastName = 'O\'Brien'", ["O'Brien"]),
    (
        "not_equal_includes_nulls",
        "SELECT Id FROM Contact WHERE Email != 'ada@example.com'",
        ["Turing", "Hopper", "O'Brien", "Dijkstra"],
    ),
    (
        "diamond_not_equal",
        "SELECT Id FROM Contact WHERE Email <> null",
        ["Lovelace", "Turing", "O'Brien", "Dijkstra"],
    ),
    ("equals_null", "SELECT Id FROM Contact WHERE Email = null", ["Hopper"]),
    (
        "datetime_z",
        "SELECT Id FROM Contact WHERE CreatedDate > 2024-01-10T08:30:00Z",
        ["O'Brien", "Dijkstra"],
    ),
    (
        "datetime_millis_and_offset",
        "SELECT Id FROM Contact WHERE CreatedDate >= 2024-01-10T08:30:00.000+0000",
        ["Hopper", "O'Brien", "Dijkstra"],
    ),
    (
        "datetime_with_colon_offset",
        "SELECT Id FROM Contact WHERE SystemModstamp < 2024-01-05T10:31:00+02:00",
        ["Lovelace", "Turing"],
    ),
    (
        "date_field_with_date_literal",
        "SELECT Id FROM Contact WHERE Birthdate <= 1990-01-05",
        ["Lovelace", "Turing"],
    ),
    (
        "and_chain",
        "SELECT Id FROM Contact WHERE Email != null AND Phone != null AND "
        "CreatedDate > 2024-01-04T00:00:00Z",
        ["O'Brien"],
    ),
    (
        "or_in_parentheses",
        "SELECT Id FROM Contact WHERE (LastName = 'Hopper' OR LastName = "
        "'Turing') AND Email != null",
        ["Turing"],
    ),
    (
        "not",
        "SELECT Id FROM Contact WHERE NOT (Email LIKE '%.com')",
        ["Turing", "Hopper", "O'Brien"],
    ),
    (
        "in_list",
        "SELECT Id FROM Contact WHERE LastName IN ('hopper', 'Dijkstra', 'Nobody')",
        ["Hopper", "Dijkstra"],
    ),
    (
        "not_in_list",
        "SELECT Id FROM Contact WHERE LastName NOT IN ('Hopper', 'Dijkstra')",
        ["Lovelace", "Turing", "O'Brien"],
    ),
    ("like_percent", "SELECT Id FROM Contact WHERE FirstName LIKE 'a%'", ["Lovelace", "Turing"]),
    (
        "like_underscore_and_escape",
        r"SELECT Id FROM Contact WHERE Email LIKE 'edsger\__@%'",
        ["Dijkstra"],
    ),
    (
        "parent_field_in_where",
        "SELECT Id FROM Contact WHERE Account.Name = 'Acme Inc.'",
        ["Lovelace", "Turing"],
    ),
    (
        "order_by_desc",
        "SELECT Id FROM Contact ORDER BY LastName DESC",
        ["Turing", "O'Brien", "Lovelace", "Hopper", "Dijkstra"],
    ),
    (
        "order_nulls_first_by_default",
        "SELECT Id FROM Contact ORDER BY FirstName",
        ["O'Brien", "Lovelace", "Turing", "Dijkstra", "Hopper"],
    ),
    (
        "order_nulls_last",
        "SELECT Id FROM Contact ORDER BY Email ASC NULLS LAST, LastName",
        ["Lovelace", "Turing", "Dijkstra", "O'Brien", "Hopper"],
    ),
    (
        "order_by_two_fields_limit_offset",
        "SELECT Id FROM Contact ORDER BY AccountId DESC NULLS LAST, CreatedDate DESC LIMIT 2 "
        "OFFSET 1",
        ["Lovelace", "Dijkstra"],
    ),
    (
        "id_comparison_for_chunking",
        "SELECT Id FROM Contact WHERE Id > '0035g0000000003' ORDER BY Id",
        ["O'Brien", "Dijkstra"],
    ),
    ("date_keyword_last_n_days", "SELECT Id FROM Contact WHERE CreatedDate = LAST_N_DAYS:3", []),
    ("multiline_query", "SELECT Id\nFROM Contact\nWHERE LastName = 'Hopper'", ["Hopper"]),
]


@pytest.mark.parametrize(
    ("soql", "expected"), [m[1:] for m in MATCHES], ids=[m[0] for m in MATCHES]
)
def test_query_matches(store: Store, soql: str, expected: list[str]) -> None:
    assert last_names(store, soql) == expected


REJECTIONS = [
    (
        "unknown_field",
        "SELECT Id, Foo FROM Contact",
        "INVALID_FIELD",
        "No such column 'Foo' on entity 'Contact'",
    ),
    (
        "unknown_field_in_where",
        "SELECT Id FROM Contact WHERE Nope = 1",
        "INVALID_FIELD",
        "No such column 'Nope'",
    ),
    (
        "unknown_parent_field",
        "SELECT Account.Nope FROM Contact",
        "INVALID_FIELD",
        "No such column 'Nope' on entity 'Account'",
    ),
    (
        "unknown_relationship",
        "SELECT Boss.Name FROM Contact",
        "INVALID_FIELD",
        "Didn't understand relationship 'Boss'",
    ),
    (
        "unknown_object",
        "SELECT Id FROM Widget",
        "INVALID_TYPE",
        "sObject type 'Widget' is not supported.",
    ),
    (
        "platform_event_not_queryable",
        "SELECT Id FROM Threadline_Screen_Pop__e",
        "INVALID_TYPE",
        "is not supported",
    ),
    (
        "date_literal_on_datetime",
        "SELECT Id FROM Contact WHERE CreatedDate > 2024-01-01",
        "INVALID_FIELD",
        "must be of type dateTime and should not be enclosed in quotes",
    ),
    (
        "quoted_datetime",
        "SELECT Id FROM Contact WHERE CreatedDate > '2024-01-01T00:00:00Z'",
        "INVALID_FIELD",
        "must be of type dateTime",
    ),
    (
        "unquoted_string",
        "SELECT Id FROM Contact WHERE LastName = 42",
        "INVALID_FIELD",
        "must be of type string and should be enclosed in quotes",
    ),
    (
        "datetime_on_date_field",
        "SELECT Id FROM Contact WHERE Birthdate > 2024-01-01T00:00:00Z",
        "INVALID_FIELD",
        "must be of type date",
    ),
    (
        "string_on_boolean",
        "SELECT Id FROM Contact WHERE DoNotCall = 'true'",
        "INVALID_FIELD",
        "must be of type boolean",
    ),
    (
        "malformed_id",
        "SELECT Id FROM Contact WHERE Id = '003abc'",
        "INVALID_QUERY_FILTER_OPERATOR",
        "invalid ID field: 003abc",
    ),
    (
        "long_text_filter",
        "SELECT Id FROM Contact WHERE Description = 'x'",
        "INVALID_FIELD",
        "can not be filtered",
    ),
    (
        "long_text_sort",
        "SELECT Id FROM Contact ORDER BY Description",
        "INVALID_FIELD",
        "can not be sorted",
    ),
    (
        "mixed_and_or_without_parentheses",
        "SELECT Id FROM Contact WHERE LastName = 'a' AND FirstName = 'b' OR Email = 'c'",
        "MALFORMED_QUERY",
        "unexpected token: 'OR'",
    ),
    (
        "double_quoted_string",
        'SELECT Id FROM Contact WHERE LastName = "Hopper"',
        "MALFORMED_QUERY",
        "unexpected token",
    ),
    (
        "datetime_without_zone",
        "SELECT Id FROM Contact WHERE CreatedDate > 2024-01-01T00:00:00",
        "MALFORMED_QUERY",
        "unexpected token",
    ),
    (
        "impossible_date",
        "SELECT Id FROM Contact WHERE Birthdate = 2024-02-30",
        "INVALID_FIELD",
        "must be of type date",
    ),
    ("missing_from", "SELECT Id Contact", "MALFORMED_QUERY", "unexpected token: 'Contact'"),
    (
        "trailing_where",
        "SELECT Id FROM Contact WHERE",
        "MALFORMED_QUERY",
        "unexpected token: <EOF>",
    ),
    ("empty_select", "SELECT FROM Contact", "MALFORMED_QUERY", "unexpected token: 'FROM'"),
    ("trailing_comma", "SELECT Id, FROM Contact", "MALFORMED_QUERY", "unexpected token"),
    (
        "unterminated_string",
        "SELECT Id FROM Contact WHERE LastName = 'abc",
        "MALFORMED_QUERY",
        "<EOF>",
    ),
    (
        "bad_escape",
        r"SELECT Id FROM Contact WHERE LastName = 'a\qb'",
        "MALFORMED_QUERY",
        "Illegal character sequence",
    ),
    (
        "duplicate_field",
        "SELECT Id, Name, id FROM Contact",
        "MALFORMED_QUERY",
        "duplicate field selected",
    ),
    (
        "bind_variable",
        "SELECT Id FROM Contact WHERE LastName = :name",
        "MALFORMED_QUERY",
        "unexpected token: ':'",
    ),
    (
        "group_by_unsupported",
        "SELECT LastName FROM Contact GROUP BY LastName",
        "MALFORMED_QUERY",
        "GROUP",
    ),
    (
        "offset_too_large",
        "SELECT Id FROM Contact LIMIT 10 OFFSET 2001",
        "NUMBER_OUTSIDE_VALID_RANGE",
        "Maximum SOQL offset allowed is 2000",
    ),
    ("negative_limit", "SELECT Id FROM Contact LIMIT -1", "MALFORMED_QUERY", "unexpected token"),
]


@pytest.mark.parametrize(
    ("soql", "code", "fragment"), [r[1:] for r in REJECTIONS], ids=[r[0] for r in REJECTIONS]
)
def test_query_rejects(store: Store, soql: str, code: str, fragment: str) -> None:
    with pytest.raises(SalesforceError) as caught:
        plan(parse(soql), store, include_deleted=False)
    assert caught.value.status == 400
    assert caught.value.error_code == code
    assert fragment in caught.value.message


def test_query_error_message_points_at_the_offending_column(store: Store) -> None:
    with pytest.raises(SalesforceError) as caught:
        plan(parse("SELECT Id, Foo FROM Contact"), store, include_deleted=False)
    assert caught.value.message.startswith(
        "\nSELECT Id, Foo FROM Contact\n           ^\nERROR at Row:1:Column:12\n"
    )


def test_count_returns_no_columns_and_all_matching_ids(store: Store) -> None:
    result = plan(
        parse("SELECT COUNT() FROM Contact WHERE Email != null"), store, include_deleted=False
    )
    assert result.columns is None
    assert len(result.ids) == 4


def test_deleted_rows_only_match_with_include_deleted(store: Store) -> None:
    contact = store.type_named("Contact")
    assert contact is not None
    hopper = next(r for r in store.all_records(contact) if r["LastName"] == "Hopper")
    store.delete(contact, hopper["Id"])
    soql = "SELECT Id FROM Contact WHERE LastName = 'Hopper'"
    assert last_names(store, soql) == []
    assert last_names(store, soql, include_deleted=True) == ["Hopper"]


def test_date_keyword_today_uses_the_store_clock(store: Store) -> None:
    contact = store.type_named("Contact")
    assert contact is not None
    created = store.create(contact, {"LastName": "Today"})
    assert created["CreatedDate"] == NOW
    assert last_names(store, "SELECT Id FROM Contact WHERE CreatedDate = TODAY") == ["Today"]
    assert last_names(store, "SELECT Id FROM Contact WHERE CreatedDate < YESTERDAY") == [
        "Lovelace",
        "Turing",
        "Hopper",
        "O'Brien",
        "Dijkstra",
    ]


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=60))
def test_parser_only_ever_raises_malformed_query(text: str) -> None:
    code = None
    try:
        parse("SELECT Id FROM Contact WHERE " + text)  # noqa: S608 - SOQL, not SQL
    except SalesforceError as exc:
        code = exc.error_code
    assert code in (None, "MALFORMED_QUERY")


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.sampled_from(
            ["Id", "LastName", "Email", "CreatedDate", "Account.Name", "Name", "Phone"]
        ),
        min_size=1,
        max_size=4,
        unique=True,
    )
)
def test_any_valid_select_list_parses_and_runs(fields: list[str]) -> None:
    s = Store(clock=lambda: NOW)
    s.create(s.type_named("Contact"), {"LastName": "X"})
    soql = f"SELECT {', '.join(fields)} FROM Contact"  # noqa: S608 - SOQL, not SQL
    result = plan(parse(soql), s, include_deleted=False)
    assert result.columns is not None
    assert [".".join(c.path) for c in result.columns] == fields


@pytest.mark.parametrize(
    "order",
    ["SystemModstamp, Id", "Email ASC NULLS LAST, Id", "MobilePhone, LastName, Id", "Email DESC"],
)
def test_a_limit_selects_the_first_rows_of_the_full_order(order: str) -> None:
    # With a LIMIT the sandbox selects the first rows instead of sorting every match;
    # the answer must be the head of the full ordering, ties in the same order.
    from connectors.salesforce.sandbox import SalesforceSandbox

    org = SalesforceSandbox(seed=4, counts={"User": 2, "Account": 5, "Contact": 400})
    query = f"SELECT Id FROM Contact ORDER BY {order}"  # noqa: S608 - test literals
    everything = plan(parse(query), org.store, include_deleted=False).ids
    first = plan(parse(f"{query} LIMIT 40"), org.store, include_deleted=False).ids
    page = plan(parse(f"{query} LIMIT 40 OFFSET 40"), org.store, include_deleted=False).ids
    assert first == everything[:40]
    assert page == everything[40:80]
