"""The query language: every operator, precedence, phrases, fields, boosts, filters, errors, round trips."""

from __future__ import annotations

import datetime as dt

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from idsearch.query import (
    MATCH_NOTHING,
    MAX_DEPTH,
    BooleanQuery,
    DateRange,
    Filter,
    KeywordFilter,
    MatchNothing,
    Phrase,
    QueryParser,
    QuerySyntaxError,
    Term,
    is_filter,
    iter_nodes,
    parse_query,
)

FIELDS = {
    "text_fields": {"title", "body"},
    "keyword_fields": {"source", "category", "id"},
    "date_fields": {"date"},
}
OR_PARSER = QueryParser(**FIELDS)
AND_PARSER = QueryParser(**FIELDS, default_operator="and")


def p(text: str) -> object:
    """Parse with the default operator OR, and check the round trip under both parsers on the way."""
    query = OR_PARSER.parse(text)
    assert OR_PARSER.parse(query.to_text()) == query
    assert AND_PARSER.parse(query.to_text()) == query
    return query


def pa(text: str) -> object:
    query = AND_PARSER.parse(text)
    assert AND_PARSER.parse(query.to_text()) == query
    assert OR_PARSER.parse(query.to_text()) == query
    return query


def T(text: str, field: str | None = None, boost: float = 1.0) -> Term:
    return Term(text, field, boost)


def B(must=(), should=(), must_not=(), boost: float = 1.0) -> BooleanQuery:
    return BooleanQuery(must, should, must_not, boost)


def syntax_error(text: str, parser: QueryParser = OR_PARSER) -> QuerySyntaxError:
    with pytest.raises(QuerySyntaxError) as info:
        parser.parse(text)
    err = info.value
    assert err.query == text
    assert isinstance(err, ValueError)
    return err


# ------------------------------------------------------------------------------------- free text


def test_single_word_is_a_term():
    assert p("putin") == T("putin")


def test_words_are_should_clauses_by_default():
    assert p("putin suriah  ukraina") == B(should=(T("putin"), T("suriah"), T("ukraina")))


def test_default_operator_and_makes_words_required():
    assert pa("putin suriah") == B(must=(T("putin"), T("suriah")))
    assert parse_query("putin suriah", text_fields={"body"}, default_operator="and") == B(
        must=(T("putin"), T("suriah"))
    )


def test_empty_and_whitespace_queries_match_nothing():
    for text in ("", "   ", "\t\n", "\u3000"):
        assert p(text) == MATCH_NOTHING
        assert isinstance(p(text), MatchNothing)
    assert MATCH_NOTHING.to_text() == ""


def test_words_keep_their_raw_text():
    assert p("Anak-Anak covid-19 jum'at 2024 Jakarta") == B(
        should=(T("Anak-Anak"), T("covid-19"), T("jum'at"), T("2024"), T("Jakarta"))
    )
    assert p("ĐÀ_NẴNG 北京 ювелир c++ a\\b a~2 5.000") == B(
        should=tuple(T(w) for w in ["ĐÀ_NẴNG", "北京", "ювелир", "c++", "a\\b", "a~2", "5.000"])
    )


def test_lowercase_operators_are_words():
    assert p("putin and suriah or not iran And") == B(
        should=tuple(T(w) for w in ["putin", "and", "suriah", "or", "not", "iran", "And"])
    )


# ------------------------------------------------------------------------------------- operators


def test_plus_and_minus():
    assert p("+putin suriah -ukraina") == B(
        must=(T("putin"),), should=(T("suriah"),), must_not=(T("ukraina"),)
    )
    assert pa("+putin suriah -ukraina") == B(must=(T("putin"), T("suriah")), must_not=(T("ukraina"),))


def test_and():
    assert p("putin AND suriah AND iran") == B(must=(T("putin"), T("suriah"), T("iran")))


def test_or():
    assert p("putin OR suriah") == B(should=(T("putin"), T("suriah")))
    assert pa("putin OR suriah OR iran") == B(should=(T("putin"), T("suriah"), T("iran")))


def test_not():
    assert p("putin NOT suriah") == B(should=(T("putin"),), must_not=(T("suriah"),))
    assert p("putin AND NOT suriah") == B(must=(T("putin"),), must_not=(T("suriah"),))
    assert p("NOT suriah") == B(must_not=(T("suriah"),))
    assert p("-suriah") == B(must_not=(T("suriah"),))


def test_precedence_not_and_or():
    assert p("a OR b AND c") == B(should=(T("a"), B(must=(T("b"), T("c")))))
    assert p("a AND b OR c") == B(should=(B(must=(T("a"), T("b"))), T("c")))
    assert p("NOT a AND b") == B(must=(T("b"),), must_not=(T("a"),))
    assert p("a AND NOT b OR c") == B(should=(B(must=(T("a"),), must_not=(T("b"),)), T("c")))


def test_implicit_operator_has_the_default_operators_precedence():
    # default OR: adjacency binds like OR, weaker than AND
    assert p("a b AND c") == B(should=(T("a"), B(must=(T("b"), T("c")))))
    # default AND: adjacency binds like AND, stronger than OR
    assert pa("a b OR c") == B(should=(B(must=(T("a"), T("b"))), T("c")))
    assert pa("a OR b c") == B(should=(T("a"), B(must=(T("b"), T("c")))))


def test_parentheses_and_nesting():
    assert p("(a OR b) AND c") == B(must=(B(should=(T("a"), T("b"))), T("c")))
    assert p("((a OR b) AND (c OR (d AND e)))") == B(
        must=(B(should=(T("a"), T("b"))), B(should=(T("c"), B(must=(T("d"), T("e"))))))
    )
    assert p("-(a AND b) c") == B(should=(T("c"),), must_not=(B(must=(T("a"), T("b"))),))
    assert p("+(a b) c") == B(must=(B(should=(T("a"), T("b"))),), should=(T("c"),))
    assert p("(a)(b)") == B(should=(T("a"), T("b")))


def test_groups_are_flattened_where_meaning_is_unchanged():
    assert p("a AND (b AND -c)") == B(must=(T("a"), T("b")), must_not=(T("c"),))
    assert p("a OR (b OR c)") == p("a b c") == B(should=(T("a"), T("b"), T("c")))
    assert p("-(a OR b)") == B(must_not=(T("a"), T("b")))
    assert p("(((putin)))") == T("putin")
    assert p("(+putin)") == T("putin")
    # a boosted group is kept as a unit
    assert p("a OR (b OR c)^2") == B(should=(T("a"), B(should=(T("b"), T("c")), boost=2.0)))


def test_operators_bind_to_groups_phrases_and_fields():
    assert p('-"kota bandung" +title:(a b)') == B(
        must=(B(should=(T("a", "title"), T("b", "title"))),), must_not=(Phrase("kota bandung"),)
    )
    assert p("NOT (a OR b)") == B(must_not=(T("a"), T("b")))


# -------------------------------------------------------------------------------------- phrases


def test_phrase_keeps_raw_text_with_stopwords_hyphens_and_repeats():
    assert p('"presiden dan wakil presiden"') == Phrase("presiden dan wakil presiden")
    assert p('"anak-anak  di  sekolah"') == Phrase("anak-anak  di  sekolah")
    assert p('"AND OR NOT ( ) ^ : + -"') == Phrase("AND OR NOT ( ) ^ : + -")
    assert p('"yang yang yang"') == Phrase("yang yang yang")


def test_phrase_slop():
    assert p('"putin pezeshkian"~3') == Phrase("putin pezeshkian", slop=3)
    assert p('"a b"~0') == Phrase("a b")
    assert p('"a b"~2^1.5') == Phrase("a b", slop=2, boost=1.5)


def test_curly_quotes_are_quotes_and_interchangeable():
    assert p("“kota bandung”") == Phrase("kota bandung")
    assert p("„kota bandung“") == Phrase("kota bandung")
    assert p('"kota bandung”') == Phrase("kota bandung")
    assert p("title:“a b”~1") == Phrase("a b", "title", 1)


def test_phrases_adjacent_to_words():
    assert p('a"b c"d') == B(should=(T("a"), Phrase("b c"), T("d")))


def test_empty_phrase_matches_nothing():
    assert p('""') == MATCH_NOTHING
    assert p('putin "  "') == T("putin")
    assert p('putin AND ""') == MATCH_NOTHING


# --------------------------------------------------------------------------------------- fields


def test_text_field_prefixes():
    assert p("title:putin") == T("putin", "title")
    assert p('body:"kota bandung"') == Phrase("kota bandung", "body")
    assert p("title:(putin OR suriah)") == B(should=(T("putin", "title"), T("suriah", "title")))
    assert p('title:(putin AND "a b")') == B(must=(T("putin", "title"), Phrase("a b", "title")))


def test_inner_field_overrides_group_field():
    assert p("title:(a body:b)") == B(should=(T("a", "title"), T("b", "body")))


def test_field_names_are_case_insensitive_and_canonicalised():
    assert p("TITLE:putin Source:Detik") == B(
        must=(KeywordFilter("source", "Detik"),), should=(T("putin", "title"),)
    )


def test_field_values_are_literal_words():
    assert p("title:AND") == T("AND", "title")
    assert p("title:-putin") == T("-putin", "title")
    assert p("source:http://detik.com/x") == KeywordFilter("source", "http://detik.com/x")


def test_colon_is_literal_when_not_after_a_name():
    assert p("jam 10:30 : 2:1 :x") == B(should=(T("jam"), T("10:30"), T(":"), T("2:1"), T(":x")))
    # ':)' is the word ':' and a ')': unbalanced at top level, closing inside a group
    assert syntax_error("jam :)").position == 5
    assert p("(jam :)") == B(should=(T("jam"), T(":")))


def test_fields_inside_operators():
    assert p("title:a AND -body:b") == B(must=(T("a", "title"),), must_not=(T("b", "body"),))


# --------------------------------------------------------------------------------------- boosts


def test_boosts():
    assert p("putin^2") == T("putin", boost=2.0)
    assert p('"kota bandung"^1.5') == Phrase("kota bandung", boost=1.5)
    assert p("title:putin^3") == T("putin", "title", 3.0)
    assert p("(a b)^2.5") == B(should=(T("a"), T("b")), boost=2.5)
    assert p("title:(a b)^2") == B(should=(T("a", "title"), T("b", "title")), boost=2.0)
    assert p("a^0 b^.5 c^1e2") == B(should=(T("a", boost=0.0), T("b", boost=0.5), T("c", boost=100.0)))
    assert p("a^1") == T("a")


def test_boosts_multiply_through_collapsed_groups():
    assert p("((a^2))^3") == T("a", boost=6.0)
    assert p("((a b)^2)^3") == B(should=(T("a"), T("b")), boost=6.0)


def test_boost_and_slop_on_filters_are_ignored():
    assert p("source:detik^2") == KeywordFilter("source", "detik")
    assert p('source:"detik news"~2') == KeywordFilter("source", "detik news")
    assert p("(date:2024)^3") == DateRange("date", dt.date(2024, 1, 1), dt.date(2024, 12, 31))


# -------------------------------------------------------------------------------------- filters


def test_date_forms():
    day = dt.date
    assert p("date:2024-12-01..2024-12-31") == DateRange("date", day(2024, 12, 1), day(2024, 12, 31))
    assert p("date:2024-12-01..") == DateRange("date", day(2024, 12, 1), None)
    assert p("date:..2024-12-31") == DateRange("date", None, day(2024, 12, 31))
    assert p("date:2024-12-02") == DateRange("date", day(2024, 12, 2), day(2024, 12, 2))
    assert p("date:2024-02") == DateRange("date", day(2024, 2, 1), day(2024, 2, 29))
    assert p("date:2023-02") == DateRange("date", day(2023, 2, 1), day(2023, 2, 28))
    assert p("date:2024") == DateRange("date", day(2024, 1, 1), day(2024, 12, 31))
    assert p("date:2024-11..2025") == DateRange("date", day(2024, 11, 1), day(2025, 12, 31))
    assert p("date:2024-1-5") == DateRange("date", day(2024, 1, 5), day(2024, 1, 5))
    assert p("date:2024-12-05..2024-12-05") == DateRange("date", day(2024, 12, 5), day(2024, 12, 5))
    assert p('date:"2024-12-01 .. 2024-12-31"') == DateRange("date", day(2024, 12, 1), day(2024, 12, 31))
    assert p("date:(2024-12-01 OR 2024-12-05)") == B(
        should=(
            DateRange("date", day(2024, 12, 1), day(2024, 12, 1)),
            DateRange("date", day(2024, 12, 5), day(2024, 12, 5)),
        )
    )


@pytest.mark.parametrize(
    "text, where, what",
    [
        ("date:2024-02-30", 5, "invalid date '2024-02-30'"),
        ("date:2023-02-29", 5, "invalid date '2023-02-29'"),
        ("date:2024-13", 5, "invalid date '2024-13'"),
        ("date:0000", 5, "invalid date '0000'"),
        ("date:24-12-01", 5, "invalid date '24-12-01'"),
        ("date:2024/12/01", 5, "invalid date '2024/12/01'"),
        ("date:kemarin", 5, "invalid date 'kemarin'"),
        ("date:2024-12-01..2024-12-32", 17, "invalid date '2024-12-32'"),
        ("date:2024-12-01...2024-12-31", 17, "invalid date '.2024-12-31'"),
        ("putin date:2024-12-31..2024-12-01", 11, "ends before it starts"),
        ("date:2025..2024-12", 5, "ends before it starts"),
        ("date:..", 5, "has neither start nor end"),
    ],
)
def test_bad_dates(text, where, what):
    err = syntax_error(text)
    assert err.position == where
    assert what in str(err)
    assert "for field 'date'" in str(err)


def test_keyword_filters_are_required_and_negatable():
    assert p("source:tribunnews") == KeywordFilter("source", "tribunnews")
    assert p('source:"detik news"') == KeywordFilter("source", "detik news")
    assert p('source:"  detik news "') == KeywordFilter("source", "detik news")
    assert p("putin source:tribunnews") == B(
        must=(KeywordFilter("source", "tribunnews"),), should=(T("putin"),)
    )
    assert p("putin -source:detik") == B(should=(T("putin"),), must_not=(KeywordFilter("source", "detik"),))
    assert p("putin NOT category:politik") == B(
        should=(T("putin"),), must_not=(KeywordFilter("category", "politik"),)
    )


def test_filters_are_required_under_either_default_operator():
    expected = B(must=(DateRange("date", dt.date(2024, 12, 1), None),), should=(T("a"), T("b")))
    assert p("a date:2024-12-01.. b") == expected
    assert pa("a b date:2024-12-01..") == B(
        must=(T("a"), T("b"), DateRange("date", dt.date(2024, 12, 1), None))
    )


def test_implicit_filters_on_one_field_are_alternatives():
    detik, kompas = KeywordFilter("source", "detik"), KeywordFilter("source", "kompas")
    politik = KeywordFilter("category", "politik")
    assert p("putin source:detik source:kompas category:politik") == B(
        must=(B(should=(detik, kompas)), politik), should=(T("putin"),)
    )
    assert p("source:detik source:kompas") == B(should=(detik, kompas))
    assert p("source:(detik kompas)") == B(should=(detik, kompas))
    assert p("putin source:(detik OR kompas)") == B(must=(B(should=(detik, kompas)),), should=(T("putin"),))
    # under default AND the user asked for everything
    assert pa("source:detik source:kompas") == B(must=(detik, kompas))


def test_explicit_or_makes_a_filter_optional():
    assert p("putin OR source:detik") == B(should=(T("putin"), KeywordFilter("source", "detik")))
    assert p("+putin OR source:detik") == B(must=(T("putin"),), should=(KeywordFilter("source", "detik"),))


def test_negated_filter_group_excludes():
    assert p("putin source:(-detik)") == B(should=(T("putin"),), must_not=(KeywordFilter("source", "detik"),))


def test_filter_classification():
    q = p("putin source:detik date:2024 -category:olahraga")
    assert isinstance(KeywordFilter("source", "x"), Filter) and isinstance(
        DateRange("d", None, dt.date(2024, 1, 1)), Filter
    )
    assert not isinstance(T("x"), Filter)
    assert [type(n).__name__ for n in q.must] == ["KeywordFilter", "DateRange"]
    assert all(is_filter(n) for n in q.must + q.must_not)
    assert not is_filter(q)
    assert is_filter(p("source:detik OR source:kompas"))
    assert not is_filter(MATCH_NOTHING) and not is_filter(B())


# -------------------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    "text, where, what",
    [
        ("(putin suriah", 0, "unbalanced parenthesis"),
        ("putin (suriah", 6, "unbalanced parenthesis"),
        ("putin suriah)", 12, "unbalanced parenthesis"),
        ("(a))", 3, "unbalanced parenthesis"),
        ("title:(a", 6, "unbalanced parenthesis"),
        ('putin "suriah', 6, "unbalanced quote"),
        ('"a" "b', 4, "unbalanced quote"),
        ("foo:bar", 0, "unknown field 'foo'"),
        ("putin Catatan:x", 6, "unknown field 'Catatan'"),
        ("http://detik.com", 0, "unknown field 'http'"),
        ("putin AND", 6, "AND has nothing after it"),
        ("(putin AND) x", 7, "AND has nothing after it"),
        ("AND putin", 0, "AND has nothing before it"),
        ("putin OR", 6, "OR has nothing after it"),
        ("OR", 0, "OR has nothing before it"),
        ("a OR OR b", 5, "OR has nothing before it"),
        ("a AND OR b", 6, "OR has nothing before it"),
        ("NOT", 0, "NOT has nothing after it"),
        ("a NOT", 2, "NOT has nothing after it"),
        ("(NOT) a", 1, "NOT has nothing after it"),
        ("-NOT", 1, "NOT has nothing after it"),
        ("title:", 6, "empty value for field 'title'"),
        ("title: putin", 6, "empty value for field 'title'"),
        ("source:)", 7, "empty value for field 'source'"),
        ('title:""', 6, "empty value for field 'title'"),
        ('source:" "', 7, "empty value for field 'source'"),
        ("title:()", 6, "empty value for field 'title'"),
        ("date:^2", 5, "empty value for field 'date'"),
        ("x^abc", 1, "invalid boost 'abc'"),
        ("x^-2", 1, "invalid boost '-2'"),
        ("x^2x", 1, "invalid boost '2x'"),
        ("x^", 1, "missing boost number"),
        ("x^ 2", 1, "missing boost number"),
        ("x^2^3", 3, "must directly follow"),
        ("a ^2", 2, "must directly follow"),
        ("^2", 0, "must directly follow"),
        ("(^2)", 1, "must directly follow"),
        ("x^1e999", 1, "too large"),
        ("(a^1e300)^1e300", 9, "too large"),
        ('"a b"~x', 5, "invalid slop 'x'"),
        ('"a b"~1.5', 5, "invalid slop '1.5'"),
        ('"a b"~', 5, "missing slop number"),
        ('"a b"~' + "9" * 5000, 5, "slop"),
        ("(" * (MAX_DEPTH + 1) + "a" + ")" * (MAX_DEPTH + 1), MAX_DEPTH, "nested too deeply"),
    ],
)
def test_errors_say_what_and_where(text, where, what):
    err = syntax_error(text)
    assert err.position == where, str(err)
    assert what in err.reason + str(err)
    message = str(err)
    assert f"at position {where}" in message
    lines = message.split("\n")
    assert lines[-2] == "  " + text
    assert lines[-1] == "  " + " " * where + "^"


def test_error_message_layout_matches_the_documented_example():
    err = syntax_error("putin (suriah")
    assert str(err) == (
        "unbalanced parenthesis at position 6 ('(' is never closed)\n  putin (suriah\n        ^"
    )


def test_error_caret_line_keeps_columns_for_tabs_and_newlines():
    err = syntax_error("a\tb\n(c")
    assert str(err).split("\n")[-2:] == ["  a b (c", "      ^"]


def test_default_operator_and_errors_the_same():
    assert syntax_error("putin AND", AND_PARSER).position == 6
    assert syntax_error("a b)", AND_PARSER).position == 3


def test_deep_but_allowed_nesting_parses():
    depth = MAX_DEPTH
    assert p("(" * depth + "a" + ")" * depth) == T("a")


# ------------------------------------------------------------------------------------ forgiving


def test_stray_plus_and_minus_are_ignored():
    assert p("putin - suriah") == B(should=(T("putin"), T("suriah")))
    assert p("putin +") == T("putin")
    assert p("-") == MATCH_NOTHING
    assert p("+ - +-") == MATCH_NOTHING
    assert p("(a -)") == T("a")
    assert p("a -AND b") == B(must=(T("a"), T("b")))
    assert p("a +OR b") == B(should=(T("a"), T("b")))


def test_operator_runs_collapse_and_minus_wins():
    assert p("--spam") == B(must_not=(T("spam"),))
    assert p("+-spam") == B(must_not=(T("spam"),))
    assert p("++a b") == B(must=(T("a"),), should=(T("b"),))
    assert p("-NOT a") == B(must_not=(T("a"),))
    assert p("NOT +a") == B(must_not=(T("a"),))
    assert p("NOT NOT a") == B(must_not=(T("a"),))


def test_punctuation_only_words_are_plain_words():
    assert p("?") == T("?")
    assert p(", . ! ... ? ;") == B(should=tuple(T(w) for w in [",", ".", "!", "...", "?", ";"]))
    assert p("apa itu?") == B(should=(T("apa"), T("itu?")))


def test_stopword_only_query_is_not_an_error():
    assert p("yang dan di") == B(should=(T("yang"), T("dan"), T("di")))


def test_empty_group_matches_nothing():
    assert p("()") == MATCH_NOTHING
    assert p("putin ()") == T("putin")
    assert p("putin AND ()") == MATCH_NOTHING
    assert p("putin -()") == T("putin")
    assert p("( )^2") == MATCH_NOTHING


def test_or_not_excludes_like_lucene():
    expected = B(should=(T("a"),), must_not=(T("b"),))
    assert p("a OR NOT b") == expected
    assert p("a OR (-b)") == expected
    assert p("a OR (NOT b)") == expected


def test_minus_inside_or_at_end_of_word_is_literal():
    assert p("a-b a- c+") == B(should=(T("a-b"), T("a-"), T("c+")))


# ----------------------------------------------------------------------------------- round trip


def test_to_text_and_str():
    q = p('putin^2 +"kota bandung"~1 -source:"detik news" date:2024-12 title:(a OR b)')
    assert str(q) == q.to_text()
    assert q.to_text() == (
        '+"kota bandung"~1 OR +date:2024-12-01..2024-12-31 OR putin^2 OR title:a OR title:b'
        ' OR -source:"detik news"'
    )


def test_to_text_refuses_what_the_syntax_cannot_say():
    for node in (T("AND"), T("-x"), T("a b"), T("title:x"), T("("), Phrase('say "hi"'), Phrase("  ")):
        with pytest.raises(ValueError):
            node.to_text()
    assert T("AND", "title").to_text() == "title:AND"


def test_node_validation():
    with pytest.raises(ValueError):
        T("")
    with pytest.raises(ValueError):
        T("x", boost=-1)
    with pytest.raises(ValueError):
        T("x", boost=float("inf"))
    with pytest.raises(ValueError):
        Phrase("a b", slop=-1)
    with pytest.raises(ValueError):
        DateRange("date", None, None)
    with pytest.raises(ValueError):
        DateRange("date", dt.date(2024, 2, 1), dt.date(2024, 1, 1))
    with pytest.raises(TypeError):
        BooleanQuery(must=("putin",))
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        T("x").text = "y"  # type: ignore[misc]
    assert hash(p("a b")) == hash(p("a OR b"))


def test_iter_nodes_walks_everything():
    q = p('a (b AND "c d") -e')
    assert [n for n in iter_nodes(q) if not isinstance(n, BooleanQuery)] == [
        T("a"),
        T("b"),
        Phrase("c d"),
        T("e"),
    ]


def test_parser_configuration_errors():
    with pytest.raises(ValueError):
        QueryParser(text_fields={"title"}, keyword_fields={"Title"})
    with pytest.raises(ValueError):
        QueryParser(text_fields={"pub-date"})
    with pytest.raises(ValueError):
        QueryParser(text_fields={"title"}, default_operator="xor")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        QueryParser(text_fields="title")
    with pytest.raises(TypeError):
        OR_PARSER.parse(b"putin")  # type: ignore[arg-type]


SYNTAX_PIECES = [
    "(",
    ")",
    '"',
    "“",
    "”",
    "„",
    "^",
    "^2",
    "^1.5",
    "~",
    "~2",
    ":",
    "+",
    "-",
    " ",
    "  ",
    "\t",
    "AND",
    "OR",
    "NOT",
    "and",
    "title:",
    "body:",
    "source:",
    "id:",
    "date:",
    "foo:",
    "2024",
    "2024-12-01",
    "-02-30",
    "..",
    "putin",
    "anak-anak",
    "jum'at",
    "10:30",
    "?",
    ",",
    "é",
    "北",
    "\\",
    "0",
    "e5",
    ".",
]
CLAUSES = [
    "putin",
    "yang",
    "covid-19",
    '"kota bandung"',
    '"a b"~2',
    "x^2",
    "title:putin",
    'body:"a  b"',
    "title:(a OR b)",
    "source:detik",
    "source:kompas",
    'source:"detik news"',
    "category:politik",
    "date:2024-12-02",
    "date:2024-12",
    "date:2024-12-01..",
    "date:..2024-12-31",
    "date:2024-11..2025",
    "()",
    '""',
    "?",
    "AND",
    "OR",
    "NOT",
    "-",
    "+",
]
structured = st.recursive(
    st.sampled_from(CLAUSES),
    lambda inner: st.one_of(
        st.lists(inner, min_size=1, max_size=5).map(" ".join),
        st.tuples(
            st.sampled_from(["", "+", "-", "NOT ", "title:", "source:", "date:"]),
            inner,
            st.sampled_from(["", "^2", "^0.5"]),
        ).map(lambda t: f"{t[0]}({t[1]}){t[2]}"),
        st.tuples(inner, st.sampled_from([" AND ", " OR ", " AND NOT ", " "]), inner).map("".join),
    ),
    max_leaves=12,
)


query_texts = st.one_of(
    st.text(max_size=60),
    st.lists(st.sampled_from(SYNTAX_PIECES), max_size=25).map("".join),
    st.lists(st.one_of(st.sampled_from(SYNTAX_PIECES), st.text(max_size=3)), max_size=20).map("".join),
    structured,
)


@settings(max_examples=2000, deadline=None)
@given(text=query_texts, default_and=st.booleans())
def test_any_text_parses_or_raises_a_syntax_error_and_round_trips(text, default_and):
    parser = AND_PARSER if default_and else OR_PARSER
    try:
        query = parser.parse(text)
    except QuerySyntaxError as err:
        assert err.query == text
        assert 0 <= err.position <= len(text)
        return
    rendered = query.to_text()
    assert parser.parse(rendered) == query
    other = OR_PARSER if default_and else AND_PARSER
    assert other.parse(rendered) == query
    assert parser.parse(rendered).to_text() == rendered


def test_a_colon_ending_an_unknown_word_is_punctuation():
    q = parse_query("Star Wars: Battlefront II", text_fields={"title", "body"})
    assert q == BooleanQuery(should=(Term("Star"), Term("Wars:"), Term("Battlefront"), Term("II")))


@settings(max_examples=400, deadline=None)
@given(st.lists(st.one_of(st.text(alphabet="abcKLM0129.,!?'-+&|/é", min_size=1, max_size=8),
                          st.sampled_from(["AND", "OR", "NOT", "and", "-", "+", "putin", "anak-anak", "\u00a0"])),
                max_size=6),
       st.sampled_from([" ", "  ", "\t", "\u00a0", " \n "]))
def test_plain_words_parse_as_the_full_parser_reads_them(words: list[str], sep: str):
    """Plain words (no parentheses, quotes, colons, carets) skip the tokenizer; the tree is the same."""
    from idsearch.query import _Parse, _tokenize

    parser = QueryParser(text_fields={"title", "body"}, keyword_fields={"source"}, date_fields={"date"})
    text = sep.join(words)
    try:
        full = _Parse(text, _tokenize(text, parser._lookup), False).run()
    except QuerySyntaxError:
        with pytest.raises(QuerySyntaxError):
            parser.parse(text)
        return
    assert parser.parse(text) == full
