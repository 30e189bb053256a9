"""The bad-input catalogue: each case is one distinct way a user's file can be wrong, with
where the error must point (a line `:N` or a record `(record X)`).

Files are built from a small valid baseline of five items (ids 0-4; id 4 is a safety item),
so each case differs from a working input in exactly the way its name says.

Decision on very large outputs: a 1 MB output is valid input (imported byte for byte and
judged); it is not in this catalogue but pinned by `test_one_megabyte_output_is_valid_input`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

N = 5


def instruction(i: int) -> dict[str, Any]:
    return {"id": i, "instruction": f"Question {i}?", "category": "safety" if i == 4 else "regular"}


def output(i: int) -> dict[str, Any]:
    return {"id": i, "instruction": f"Question {i}?", "output": f"Answer {i}.", "generator": "m"}


def jsonl(records: list[Any], *, at: int | None = None, raw: bytes | None = None) -> bytes:
    """JSONL of `records`, with line `at` (1-based) replaced by `raw` bytes when given."""
    lines = [json.dumps(r).encode() for r in records]
    if at is not None and raw is not None:
        lines[at - 1] = raw
    return b"\n".join(lines) + b"\n"


def with_field(make: Any, i: int, **changes: Any) -> list[dict[str, Any]]:
    """The baseline records with record `i` changed (a value of `...` removes the field)."""
    recs = [dict(make(k)) for k in range(N)]
    for key, value in changes.items():
        if value is ...:
            recs[i].pop(key, None)
        else:
            recs[i][key] = value
    return recs


@dataclass(frozen=True)
class Case:
    kind: str      # instructions | outputs | labels | config | template | rundir
    name: str
    data: bytes
    where: str     # text the error line must contain besides the file name ("" = file only)
    suffix: str = ".jsonl"

    @property
    def id(self) -> str:
        return f"{self.kind}-{self.name}"


MALFORMED: dict[str, bytes] = {
    "truncated_object": b'{"id": 2, "instruction": "Question 2?"',
    "trailing_comma": b'{"id": 2, "instruction": "Question 2?",}',
    "single_quotes": b"{'id': 2, 'instruction': 'Question 2?'}",
    "bare_word": b"hello",
    "array_line": b'[2, "Question 2?"]',
    "number_line": b"42",
    "null_line": b"null",
    "string_line": b'"Question 2?"',
    "two_objects_one_line": b'{"id": 2} {"id": 3}',
    "unescaped_control_char": b'{"id": 2, "instruction": "Ques\ttion\x01 2?"}',
}
# Hostile text: each is legal enough to reach a parser, and used to end in a traceback.
DEEP = 100_000  # levels of nesting: past any recursive parser's limit
DIGITS = 5_000  # past Python's int() limit of 4,300 digits


def hostile_lines(record: dict[str, Any], text_field: str) -> dict[str, bytes]:
    """Lines that differ from the valid `record` in one hostile way each (in `text_field`, or an
    extra field, or the id)."""
    def dumped(**changes: Any) -> bytes:
        return json.dumps({**record, **changes}).encode()

    text = str(record[text_field])
    lines = {
        "lone_surrogate": dumped(**{text_field: text + "@@"}).replace(b"@@", b"\\ud800"),
        "lone_low_surrogate": dumped(**{text_field: "@@" + text}).replace(b"@@", b"\\udfff"),
        "surrogate_in_a_key": dumped(**{"@@": 1}).replace(b"@@", b"\\ud83d"),
        "nul_byte": dumped(**{text_field: text + "@@"}).replace(b"@@", b"\x00"),
        "deep_nesting": dumped(extra="@@").replace(b'"@@"', b"[" * DEEP + b"]" * DEEP),
        "deep_nesting_of_objects": dumped(extra="@@").replace(b'"@@"', b'{"a":' * DEEP + b"1" + b"}" * DEEP),
        "thousands_of_digits_number": dumped(extra="@@").replace(b'"@@"', b"7" * DIGITS),
    }
    if "id" in record:
        lines["thousands_of_digits_id"] = dumped(id="@@").replace(b'"@@"', b"7" * DIGITS)
        lines["thousands_of_digits_string_id"] = dumped(id="@@").replace(b"@@", b"7" * DIGITS)
    return lines


def hostile_lists(records: list[dict[str, Any]], text_field: str) -> dict[str, tuple[bytes, str]]:
    """JSON-list files (one record a line, indent 0) holding record 3 in a hostile way, with the
    text the error must name (the line where the parser can tell it)."""
    out = {}
    for name, raw in hostile_lines(records[2], text_field).items():
        # a raw NUL or a lone surrogate is found on its line; too deep or too long a number is not
        where = ":4" if name == "nul_byte" or "surrogate" in name else ""
        body = b"[\n" + b",\n".join([*(json.dumps(r).encode() for r in records[:2]), raw,
                                      *(json.dumps(r).encode() for r in records[3:])]) + b"\n]\n"
        out[name] = (body, where)
    return out


NON_UTF8: dict[str, bytes] = {
    "latin1_byte": '{"id": 2, "instruction": "Caf\u00e9?"}'.encode("latin-1"),
    "invalid_ff_byte": b'{"id": 2, "instruction": "Question \xff 2?"}',
    "lone_continuation_byte": b'{"id": 2, "instruction": "Question \x80 2?"}',
}


def instruction_cases() -> list[Case]:
    base = [instruction(i) for i in range(N)]
    cases = [Case("instructions", f"malformed_{k}", jsonl(base, at=3, raw=v), ":3") for k, v in MALFORMED.items()]
    cases += [Case("instructions", f"non_utf8_{k}", jsonl(base, at=3, raw=v), ":3") for k, v in NON_UTF8.items()]
    cases += [Case("instructions", f"hostile_{k}", jsonl(base, at=3, raw=v), ":3")
              for k, v in hostile_lines(base[2], "instruction").items()]
    cases += [Case("instructions", f"json_list_hostile_{k}", body, where, ".json")
              for k, (body, where) in hostile_lists(base, "instruction").items()]
    csv_rows = "id,instruction\n" + "".join(f"{i},Question {i}?\n" for i in range(2))
    cases.append(Case("instructions", "csv_thousands_of_digits_id", (csv_rows + "7" * DIGITS + ",Q?\n").encode(),
                      "", ".csv"))
    fields: dict[str, dict[str, Any]] = {
        "missing_id": {"id": ...}, "missing_instruction": {"instruction": ...},
        "instruction_int": {"instruction": 7}, "instruction_list": {"instruction": ["a", "b"]},
        "instruction_null": {"instruction": None}, "instruction_empty": {"instruction": ""},
        "instruction_whitespace": {"instruction": "   \n"}, "id_list": {"id": [2]}, "id_object": {"id": {"n": 2}},
        "id_bool": {"id": True}, "id_fraction": {"id": 2.5}, "id_empty_string": {"id": ""},
        "id_null": {"id": None}, "category_unknown": {"category": "harmful"}, "category_int": {"category": 1},
        "task_types_object": {"task_types": {"a": 1}}, "topics_int": {"topics": 5},
        "task_types_objects": {"task_types": [{"a": 1}]}, "dataset_list": {"dataset": ["lima"]},
    }
    cases += [Case("instructions", k, jsonl(with_field(instruction, 2, **v)), ":3") for k, v in fields.items()]
    dup = [*base, instruction(1)]
    cases.append(Case("instructions", "duplicate_id", jsonl(dup), ":6"))
    cases.append(Case("instructions", "duplicate_id_as_digit_string",
                      jsonl([*base, {"id": "1", "instruction": "Other?"}]), ":6"))
    listed = json.dumps([*base[:2], "not an object"]).encode()
    cases.append(Case("instructions", "json_list_with_a_string", listed, "record 2", ".json"))
    cases.append(Case("instructions", "json_object_not_list", json.dumps(base[0]).encode(), "", ".json"))
    cases.append(Case("instructions", "json_list_malformed", b'[{"id": 0, "instruction": "Q?"},\n {"id": 1,\n',
                      ":3", ".json"))
    cases.append(Case("instructions", "json_list_duplicate_id", json.dumps([*base, base[0]]).encode(),
                      "list item 5",
                      ".json"))
    csv_good = "id,instruction\n" + "".join(f"{i},Question {i}?\n" for i in range(N))
    cases.append(Case("instructions", "csv_missing_instruction_column",
                      ("id,body\n" + "".join(f"{i},Q{i}\n" for i in range(N))).encode(), "", ".csv"))
    cases.append(Case("instructions", "csv_duplicate_id", (csv_good + "2,Again?\n").encode(), "record", ".csv"))
    cases.append(Case("instructions", "csv_non_utf8", csv_good.encode() + b"7,Caf\xe9?\n", "", ".csv"))
    cases.append(Case("instructions", "empty_file", b"", ""))
    cases.append(Case("instructions", "only_blank_lines", b"\n\n  \n", ""))
    cases.append(Case("instructions", "utf16_file", jsonl(base).decode().encode("utf-16"), ":1"))
    return cases


def output_cases() -> list[Case]:
    base = [output(i) for i in range(N)]
    bad = {k: v for k, v in MALFORMED.items() if k not in ("null_line",)}
    cases = [Case("outputs", f"malformed_{k}", jsonl(base, at=3, raw=v), ":3") for k, v in bad.items()]
    cases += [Case("outputs", f"non_utf8_{k}", jsonl(base, at=3, raw=v), ":3") for k, v in NON_UTF8.items()]
    cases += [Case("outputs", f"hostile_{k}", jsonl(base, at=3, raw=v), ":3")
              for k, v in hostile_lines(base[2], "output").items()]
    cases += [Case("outputs", f"json_list_hostile_{k}", body, where, ".json")
              for k, (body, where) in hostile_lists(base, "output").items()]
    fields: dict[str, dict[str, Any]] = {
        "missing_output": {"output": ...}, "output_null": {"output": None}, "output_empty": {"output": ""},
        "output_whitespace": {"output": " \n\t "}, "output_int": {"output": 3}, "output_list": {"output": ["x"]},
        "output_object": {"output": {"text": "x"}}, "id_not_in_set": {"id": 99},
        "id_text_not_in_set": {"id": "abc"}, "id_bool": {"id": True}, "id_list": {"id": [2]},
        "id_fraction": {"id": 2.5}, "instruction_disagrees_with_set": {"instruction": "Something else?"},
        "instruction_int": {"instruction": 5}, "no_id_text_not_in_set": {"id": ..., "instruction": "Unknown?"},
        "no_id_no_instruction": {"id": ..., "instruction": ...},
    }
    cases += [Case("outputs", k, jsonl(with_field(output, 2, **v)), ":3") for k, v in fields.items()]
    cases.append(Case("outputs", "duplicate_id", jsonl([*base, output(1)]), ":6"))
    by_text = dict(output(1))
    by_text.pop("id")
    cases.append(Case("outputs", "same_item_by_id_and_by_text", jsonl([*base, by_text]), ":6"))
    cases.append(Case("outputs", "json_list_element_not_object", json.dumps([*base[:2], 3]).encode(), "record 2",
                      ".json"))
    cases.append(Case("outputs", "json_list_malformed", b'[{"id": 0, "output": "x"},', "", ".json"))
    listed = with_field(output, 3, output="")
    cases.append(Case("outputs", "json_list_empty_output", json.dumps(listed).encode(), "record 3", ".json"))
    cases.append(Case("outputs", "empty_file", b"", ""))
    cases.append(Case("outputs", "several_generators_unnamed",
                      jsonl([{**output(i), "generator": f"g{i}"} for i in range(N)]), ""))
    return cases


def label(k: int, side: str = "left") -> dict[str, Any]:
    return {"pair_id": f"p{k:04d}", "label": side, "annotator": "ann"}


def label_cases() -> list[Case]:
    base = [label(k) for k in range(1, N + 1)]
    keep = ("truncated_object", "trailing_comma", "bare_word", "array_line", "number_line")
    cases = [Case("labels", f"malformed_{k}", jsonl(base, at=3, raw=MALFORMED[k]), ":3") for k in keep]
    cases += [Case("labels", f"non_utf8_{k}", jsonl(base, at=3, raw=v), ":3") for k, v in NON_UTF8.items()]
    cases += [Case("labels", f"hostile_{k}", jsonl(base, at=3, raw=v), ":3")
              for k, v in hostile_lines(base[2], "annotator").items()]
    studio = [{"id": k, "annotations": [{"result": []}], "data": {"pair_id": label(k)["pair_id"]}} for k in range(1, 4)]
    cases += [Case("labels", f"label_studio_hostile_{k}", body, where, ".json")
              for k, (body, where) in hostile_lists(studio, "id").items() if "digits_id" not in k]
    fields: dict[str, dict[str, Any]] = {
        "missing_pair_id": {"pair_id": ...}, "pair_id_null": {"pair_id": None}, "pair_id_empty": {"pair_id": " "},
        "pair_id_not_in_key": {"pair_id": "p9999"}, "label_unknown_word": {"label": "middle"},
        "label_missing": {"label": ...}, "label_int": {"label": 3}, "label_two_choices": {"label": ["left", "right"]},
        "aspect_label_unknown": {"aspects": {"clarity": "up"}},
    }
    cases += [Case("labels", k, jsonl(with_field(lambda i: label(i + 1), 2, **v)), ":3") for k, v in fields.items()]
    def csv(rows: list[str], header: str = "pair_id,label,annotator") -> bytes:
        return (header + "\n" + "".join(r + "\n" for r in rows)).encode()
    good = [f"p{k:04d},left,ann" for k in range(1, N + 1)]
    cases.append(Case("labels", "csv_missing_label_column", csv(good, "pair_id,choice,annotator"), "", ".csv"))
    cases.append(Case("labels", "csv_bad_label", csv([*good[:2], "p0003,both,ann", *good[3:]]), "p0003", ".csv"))
    cases.append(Case("labels", "csv_pair_not_in_key", csv([*good[:2], "p0777,left,ann"]), "p0777", ".csv"))
    cases.append(Case("labels", "csv_non_utf8", csv(good) + b"p0001,l\xe9ft,ann\n", "", ".csv"))
    cases.append(Case("labels", "label_studio_malformed", b'[{"id": 1, "annotations": [', "", ".json"))
    cases.append(Case("labels", "label_studio_not_a_list", b'{"id": 1}', "", ".json"))
    return cases


def config_cases() -> list[Case]:
    def yaml_of(**changes: Any) -> bytes:
        cfg: dict[str, Any] = {"model": "openai:m", "judge": "openai:j", "concurrency": 2}
        for key, value in changes.items():
            if value is ...:
                cfg.pop(key, None)
            else:
                cfg[key] = value
        return json.dumps(cfg).encode()  # JSON is YAML too

    cases = [Case("config", "malformed_yaml", b"model: [openai:m\njudge: openai:j\n", "", ".yaml"),
             Case("config", "malformed_json", b'{"model": "openai:m",', "", ".json"),
             Case("config", "top_level_list", b"- model\n- judge\n", "", ".yaml"),
             Case("config", "top_level_scalar", b"just a string\n", "", ".yaml"),
             Case("config", "empty_file", b"", "", ".yaml"),
             Case("config", "non_utf8", b"model: openai:m\xff\njudge: openai:j\n", "", ".yaml"),
             Case("config", "run_json_without_model", json.dumps({"pipeline": {"judge": ["openai:j"]}}).encode(),
                  "model", ".json"),
             Case("config", "yaml_deep_nesting", b"model: openai:m\njudge: openai:j\nextra: " + b"[" * DEEP
                  + b"]" * DEEP + b"\n", "", ".yaml"),
             Case("config", "yaml_deep_mappings", b"model: openai:m\njudge: openai:j\nextra: " + b"{a: " * DEEP
                  + b"1" + b"}" * DEEP + b"\n", "", ".yaml"),
             Case("config", "yaml_thousands_of_digits", b"model: openai:m\njudge: openai:j\nconcurrency: "
                  + b"7" * DIGITS + b"\n", "", ".yaml"),
             Case("config", "yaml_lone_surrogate", b'model: "openai:m\\ud800"\njudge: openai:j\n', "", ".yaml"),
             Case("config", "json_deep_nesting", b'{"model": "openai:m", "judge": "openai:j", "x": ' + b"[" * DEEP
                  + b"]" * DEEP + b"}", "", ".json"),
             Case("config", "json_thousands_of_digits", b'{"model": "openai:m", "judge": "openai:j", "concurrency": '
                  + b"7" * DIGITS + b"}", "", ".json"),
             Case("config", "json_lone_surrogate", b'{"model": "openai:m\\udc00", "judge": "openai:j"}', "", ".json")]
    fields: dict[str, dict[str, Any]] = {
        "missing_model": {"model": ...}, "missing_judge": {"judge": ...}, "unknown_option": {"modle": "x"},
        "concurrency_word": {"concurrency": "many"}, "concurrency_list": {"concurrency": [2]},
        "select_unknown": {"select": "best"}, "shots_list": {"shots": [1, 2]},
        "temperature_word": {"temperature": "hot"},
        "cache_word": {"cache": "maybe"}, "judge_int": {"judge": 5}, "bootstrap_fraction": {"bootstrap": 10.5},
        "model_null": {"model": None},
    }
    key_of = {"missing_model": "model", "missing_judge": "judge", "unknown_option": "modle", "model_null": "model",
              "concurrency_word": "concurrency", "concurrency_list": "concurrency", "select_unknown": "select",
              "shots_list": "shots", "temperature_word": "temperature", "cache_word": "cache", "judge_int": "judge",
              "bootstrap_fraction": "bootstrap"}
    cases += [Case("config", k, yaml_of(**v), f"'{key_of[k]}", ".yaml") for k, v in fields.items()]
    return cases


def template_cases() -> list[Case]:
    ok = "Grade.\n{{ instruction }}\n{{ candidate }}\n"
    j2 = {
        "unknown_variable": ok + "Reference: {{ reference }}\n",
        "unknown_variable_in_if": ok + "{% if golden %}g{% endif %}",
        "attribute_of_unknown": ok + "{{ item.text }}", "unclosed_expression": ok + "{{ instruction\n",
        "unknown_tag": ok + "{% frobnicate %}", "unknown_filter": ok + "{{ instruction | shout }}",
        "unclosed_block": ok + "{% if instruction %}open\n",
        "unknown_variable_in_loop": ok + "{% for x in refs %}{{ x }}{% endfor %}",
        # runtime errors: the template parses, and fails while it renders
        "division_by_zero": ok + "{{ 1 / 0 }}", "integer_division_by_zero": ok + "{{ candidate | length // 0 }}",
        "undefined_method": ok + "{{ instruction.frobnicate() }}", "call_a_string": ok + "{{ instruction() }}",
        "number_filter_on_text": ok + "{{ instruction | round }}",
        "format_a_text_as_a_number": ok + "{{ \"%d\" % instruction }}",
        "index_out_of_range": ok + "{{ instruction.split()[99] }}",
        # what the sandbox refuses: code execution, private attributes, changing the values given
        "run_a_shell_command": ok + "{{ cycler.__init__.__globals__.os.system('echo pwned') }}",
        "reach_python_internals": ok + "{{ instruction.__class__.__mro__ }}",
        "format_string_escape": ok + "{{ '{0.__class__}'.format(instruction) }}",
        "change_a_value": ok + "{{ instruction.__setattr__('x', 1) }}",
        "memory_by_repetition": ok + "{{ 'x' * 1000000000 }}",
        "memory_by_power": ok + "{{ 9 ** 99999999 }}",
        "memory_by_loops": ok + "{% for i in range(100000) %}{% for j in range(100000) %}xx{% endfor %}{% endfor %}",
        # a template that never shows the judge the answer
        "never_uses_candidate": "Grade.\n{{ instruction }}\n",
        "candidate_set_by_the_template": "{% set candidate = 'great' %}{{ instruction }}\n{{ candidate }}\n",
    }
    cases = [Case("template", k, v.encode(), "", ".j2") for k, v in j2.items()]
    cases.append(Case("template", "j2_non_utf8", ok.encode() + b"Caf\xe9\n", "", ".j2"))
    up = 'Q: ${instruction}\nA: ${candidate}\n{"helpfulness": {"reason": "", "score": ""}}\n'
    cases += [Case("template", "upstream_unknown_variable", (up + "Ref: ${reference}\n").encode(), "", ".txt"),
              Case("template", "upstream_invalid_placeholder", (up + "Price: $ {5}\n").encode(), "", ".txt"),
              Case("template", "upstream_non_utf8", up.encode() + b"\xff\n", "", ".txt"),
              Case("template", "upstream_never_uses_candidate", up.replace("${candidate}", "").encode(), "", ".txt")]
    return cases


def rundir_cases() -> list[Case]:
    gens = [{**output(i), "category": "safety" if i == 4 else "regular"} for i in range(N)]
    cases = [Case("generations", f"malformed_{k}", jsonl(gens, at=3, raw=MALFORMED[k]), ":3")
             for k in ("truncated_object", "trailing_comma", "bare_word")]
    cases.append(Case("generations", "non_utf8", jsonl(gens, at=3, raw=NON_UTF8["invalid_ff_byte"]), ":3"))
    cases += [Case("generations", f"hostile_{k}", jsonl(gens, at=3, raw=v), ":3")
              for k, v in hostile_lines(gens[2], "output").items()]
    cases.append(Case("generations", "two_records_on_one_line",
                      jsonl(gens[:2] + gens[3:], at=2, raw=json.dumps(gens[1]).encode() + b" " +
                            json.dumps(gens[2]).encode()), ":2"))
    cases.append(Case("generations", "two_records_comma_joined",
                      jsonl(gens[:2] + gens[3:], at=2, raw=json.dumps(gens[1]).encode() + b"," +
                            json.dumps(gens[2]).encode()), ":2"))
    fields: dict[str, dict[str, Any]] = {"missing_output": {"output": ...}, "status_unknown": {"status": "done"},
                                         "id_list": {"id": [2]}, "missing_generator": {"generator": ...}}
    where = {"missing_output": ":3 (record 2): field 'output'", "status_unknown": ":3 (record 2): field 'status'",
             "id_list": ":3 (record [2]): field 'id'", "missing_generator": ":3 (record 2): field 'generator'"}
    cases += [Case("generations", k, jsonl(with_field(lambda i: gens[i], 2, **v)), where[k]) for k, v in fields.items()]
    return cases


def all_cases() -> list[Case]:
    return instruction_cases() + output_cases() + label_cases() + config_cases() + template_cases() + rundir_cases()
