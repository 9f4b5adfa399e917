"""The one escaper: exact query strings for hostile values."""

from __future__ import annotations

from remem.store.query import (
    TagIn,
    conjunction,
    escape_tag,
    every,
    numeric_range,
    resolve_patterns,
    tag_any,
    tag_equals,
    tag_patterns,
    text_any,
    text_any_where,
)


def test_plain_values_are_left_alone() -> None:
    assert escape_tag("abc123") == "abc123"


def test_underscores_are_escaped() -> None:
    """A bare ``_`` is a syntax error to the query parser (500 for a search of ``_``)."""
    assert escape_tag("_") == "\\_"
    assert escape_tag("abc_123") == "abc\\_123"
    assert text_any("search_text", ["_", "a_b"]) == "@search_text:(\\_|a\\_b)"


def test_every_query_syntax_character_is_escaped() -> None:
    assert escape_tag('a:b@c{d}|e-f*g"h\\i,j') == 'a\\:b\\@c\\{d\\}\\|e\\-f\\*g\\"h\\\\i\\,j'
    assert escape_tag("it's (x) ~t $v") == "it\\'s\\ \\(x\\)\\ \\~t\\ \\$v"


def test_unicode_is_kept_as_is() -> None:
    assert escape_tag("日本語 ü") == "日本語\\ ü"


def test_tag_clauses() -> None:
    assert tag_equals("namespace", "a b") == "@namespace:{a\\ b}"
    assert tag_any("topics", ["x", "y-z"]) == "@topics:{x | y\\-z}"


def test_numeric_ranges_are_formatted_by_us() -> None:
    assert numeric_range("created_at", 1.5) == "@created_at:[1.5 +inf]"
    assert numeric_range("created_at", None, 2, high_exclusive=True) == "@created_at:[-inf (2.0]"


def test_conjunction_of_nothing_matches_all() -> None:
    assert conjunction(["", ""]) == "*"
    assert conjunction(["*", "@a:{x}"]) == "@a:{x}"
    assert conjunction(["@a:{x}", "", "@b:{y}"]) == "@a:{x} @b:{y}"


def test_words_under_a_filter_go_one_by_one() -> None:
    """A filter goes with each word (RediSearch 2.10 misscores a union it intersects)."""
    assert text_any_where("t", ["a", "b"], "*") == "@t:(a|b)"
    assert text_any_where("t", ["a"], "@n:{x}") == "((@n:{x}) @t:(a))"
    assert text_any_where("t", ["a", "b_c"], "-@n:{x}") == (
        "(((-@n:{x}) @t:(a)) | ((-@n:{x}) @t:(b\\_c)))"
    )


def test_a_faint_word_s_clause_is_a_weighted_group() -> None:
    """RediSearch 2.10 weighs groups only: a faint word's clause is one, with or without a
    filter (without, the word OR itself)."""
    faint = "=>{$weight:0.0001}"
    assert text_any_where("t", ["a", "b"], "*", {"a"}) == f"((@t:(a)|@t:(a)){faint} | @t:(b))"
    assert text_any_where("t", ["a", "b"], "@n:{x} @m:{y}", {"b"}) == (
        f"(((@n:{{x}} @m:{{y}}) @t:(a)) | ((@n:{{x}} @m:{{y}}) @t:(b)){faint})"
    )


def test_filter_values_render_through_the_one_escaper() -> None:
    """The domain composes values; rendering them gives the same strings as the builders."""
    from remem.store.query import MATCH_ALL, Between, HasValue, TagIn, every, tag_is

    hostile = 'a:b{c}|"d" -e'
    assert TagIn("namespace", (hostile,)).render() == tag_equals("namespace", hostile)
    assert (~TagIn("id", ("x", "y"))).render() == "-@id:{x | y}"
    assert (~HasValue("user_id")).render() == "-@user_id:{w'*'}"
    both = TagIn("namespace", ("n",)) & Between("created_at", 1.5, None, low_open=True)
    assert both.render() == "@namespace:{n} @created_at:[(1.5 +inf]"
    assert (~both).render() == "-(@namespace:{n} @created_at:[(1.5 +inf])"
    assert every().render() == MATCH_ALL.render() == "*"
    assert every(None, MATCH_ALL, tag_is("user_id", None)) == MATCH_ALL
    assert every(tag_is("user_id", "u"), None) == TagIn("user_id", ("u",))  # no needless AND
    assert every(both, every(tag_is("session_id", "s"))).render() == (
        "@namespace:{n} @created_at:[(1.5 +inf] @session_id:{s}"
    )
    assert hash(both) == hash(
        TagIn("namespace", ("n",)) & Between("created_at", 1.5, low_open=True)
    )


def test_scope_patterns_resolve_prefixes_against_known_values_and_escape_them() -> None:
    values = ["acme/x", "acme/ü {y}", "acmeZ", "beta"]
    assert resolve_patterns(["beta", "acme/*"], values) == ("beta", "acme/x", "acme/ü {y}")
    assert tag_patterns("namespace", ["a|b*"], ["a|bc", "ab"]) == "@namespace:{a\\|bc}"
    assert tag_patterns("namespace", ["x*"], values) is None  # nothing: no query at all
    assert tag_patterns("namespace", ["c*d"], values) == "@namespace:{c\\*d}"  # * inside: exact


def test_every_drops_repeated_clauses() -> None:
    """A scope ANDed into a search that names the same namespace adds nothing to the query."""
    ns = TagIn("namespace", ("acme",))
    assert every(ns, every(ns, TagIn("user_id", ("u",)))).render() == (
        "@namespace:{acme} @user_id:{u}"
    )
