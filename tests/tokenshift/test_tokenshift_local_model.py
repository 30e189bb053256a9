"""The hf: path on tiny random models the tests build: one teacher-forced pass per output, ranks
checked against ranks the test computes itself from the full logits."""

from __future__ import annotations

from pathlib import Path

import pytest

from justeval.engine.backend_spec import BackendSpec
from justeval.errors import InputError
from justeval.tokenshift import categorize, read_token_shift, shift_report, token_shift
from tests.tokenshift import tiny
from tests.tokenshift.conftest import TinyModels, hf_settings


def test_a_base_model_against_its_own_greedy_outputs_is_all_unshifted(models: TinyModels, own_run: Path) -> None:
    [result] = token_shift([own_run], hf_settings(models.base))
    records = read_token_shift(result.path)
    assert len(records) == len(tiny.INSTRUCTIONS) and result.ok == len(tiny.INSTRUCTIONS)
    for record in records.values():
        assert record.tokens == 12  # generation banned the end token: twelve each
        assert set(record.ranks) == {1} and record.unshifted == 1.0 and record.shifted_tokens == []
    report = shift_report([result])
    assert (report.unshifted, report.marginal, report.shifted) == (1.0, 0.0, 0.0)
    assert report.tokens == 12 * len(tiny.INSTRUCTIONS)


def test_outputs_of_another_model_are_shifted_with_the_ranks_of_the_full_logits(models: TinyModels,
                                                                               other_run: Path) -> None:
    [result] = token_shift([other_run], hf_settings(models.base))
    records = read_token_shift(result.path)
    _, tok = tiny.load(models.base)
    total_shifted = 0
    for i, (instruction, output) in enumerate(zip(tiny.INSTRUCTIONS, models.other_outputs, strict=True)):
        record = records[i]
        expected = tiny.reference_ranks(models.base, instruction, output)
        assert record.ranks == expected
        assert record.counts.shifted == sum(r > 3 for r in expected)
        assert record.counts.marginal == sum(2 <= r <= 3 for r in expected)
        assert [d.position for d in record.shifted_tokens] == [j for j, r in enumerate(expected) if r > 3]
        ids = tok(output, add_special_tokens=False)["input_ids"]
        for detail in record.shifted_tokens + record.marginal_tokens:
            assert detail.token_id == ids[detail.position] and detail.rank == expected[detail.position]
            assert len(detail.top) == 10 and detail.token_id not in [a.token_id for a in detail.top[:detail.rank - 1]]
            assert [a.logprob for a in detail.top] == sorted((a.logprob for a in detail.top), reverse=True)
        assert record.offsets is not None
        assert [output[s:e] for s, e in record.offsets] == output.split()  # each token's span in the output
        total_shifted += record.counts.shifted
    assert total_shifted > 0
    report = shift_report([result])
    assert report.shifted is not None and report.shifted > 0
    assert report.unshifted is not None and report.marginal is not None
    assert abs(report.unshifted + report.marginal + report.shifted - 1) < 1e-9


def test_one_output_per_pass_gives_the_ranks_of_a_padded_batch(models: TinyModels, other_run: Path,
                                                               tmp_path: Path) -> None:
    batched = token_shift([other_run], hf_settings(models.base, out=tmp_path / "batched"))
    single = token_shift([other_run], hf_settings(models.base, out=tmp_path / "single", batch_tokens=1))
    a, b = read_token_shift(batched[0].path), read_token_shift(single[0].path)
    assert {i: r.ranks for i, r in a.items()} == {i: r.ranks for i, r in b.items()}


def test_with_an_aligned_model_its_own_top1_is_ranked(models: TinyModels, other_run: Path) -> None:
    import torch

    settings = hf_settings(models.base, aligned=BackendSpec(spec=f"hf:{models.other}"))
    [result] = token_shift([other_run], settings)
    records = read_token_shift(result.path)
    aligned, tok = tiny.load(models.other)
    for i, (instruction, output) in enumerate(zip(tiny.INSTRUCTIONS, models.other_outputs, strict=True)):
        chat = tok.apply_chat_template([{"role": "user", "content": instruction}], tokenize=False,
                                       add_generation_prompt=True)
        prompt = tok(chat, add_special_tokens=False)["input_ids"]
        out = tok(output, add_special_tokens=False)["input_ids"]
        with torch.inference_mode():
            logits = aligned(torch.tensor([prompt + out])).logits[0]
        top1 = [int(logits[len(prompt) + j - 1].argmax()) for j in range(len(out))]
        record = records[i]
        assert record.measured == "aligned_top1" and record.aligned == f"hf:{models.other}"
        assert record.ranks == tiny.reference_ranks(models.base, instruction, output, targets=top1)
        assert record.aligned_agreement == sum(t == o for t, o in zip(top1, out, strict=True))
        for detail in record.shifted_tokens:
            assert detail.token_id == top1[detail.position]
            assert (detail.output_token is None) == (top1[detail.position] == out[detail.position])


def test_a_template_file_is_filled_by_plain_substitution(models: TinyModels, other_run: Path, tmp_path: Path) -> None:
    layout = tmp_path / "layout.txt"
    layout.write_text(tiny.URIAL, encoding="utf-8")
    from_file = token_shift([other_run], hf_settings(models.base, template=str(layout), out=tmp_path / "file"))
    builtin = token_shift([other_run], hf_settings(models.base, out=tmp_path / "builtin"))
    a, b = read_token_shift(from_file[0].path), read_token_shift(builtin[0].path)
    assert {i: r.ranks for i, r in a.items()} == {i: r.ranks for i, r in b.items()}
    assert a[0].template.name == str(layout.resolve()) and a[0].template.sha256 == b[0].template.sha256

    hostile = tmp_path / "hostile.txt"  # format fields and Jinja are text, not code
    hostile.write_text("{instruction.__class__} {{ 7*7 }} {0} {instruction}", encoding="utf-8")
    from justeval.tokenshift.templates import load_template

    assert load_template(str(hostile)).render("why") == "{instruction.__class__} {{ 7*7 }} {0} why"
    plain = token_shift([other_run], hf_settings(models.base, template="plain", out=tmp_path / "plain"))
    first = read_token_shift(plain[0].path)[0]
    plain_ranks = _ranks_with_layout(models.base, tiny.INSTRUCTIONS[0], models.other_outputs[0], "{instruction}")
    assert first.ranks == plain_ranks and first.template.name == "plain"


def test_a_template_without_its_placeholder_is_refused(models: TinyModels, other_run: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.txt"
    bad.write_text("# Query:\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"no \{instruction\} placeholder"):
        token_shift([other_run], hf_settings(models.base, template=str(bad)))


def test_an_output_longer_than_the_context_is_cut_and_says_so(models: TinyModels, tmp_path: Path) -> None:
    long_output = " ".join(tiny.WORDS * 8)  # 320 tokens; the model holds 256 positions
    run = tiny.write_run(tmp_path / "long", ["tell a story"], [long_output])
    [result] = token_shift([run], hf_settings(models.base))
    record = read_token_shift(result.path)[0]
    _, tok = tiny.load(models.base)
    prompt = len(tiny.prompt_ids(tok, "tell a story"))
    assert record.truncated_from == 320 and record.tokens == 256 - prompt == len(record.ranks)
    assert all(categorize(r) in ("unshifted", "marginal", "shifted") for r in record.ranks)
    assert shift_report([result]).models[0].truncated == 1


def _ranks_with_layout(model: Path, instruction: str, output: str, layout: str) -> list[int]:
    import torch

    lm, tok = tiny.load(model)
    prompt = tiny.prompt_ids(tok, instruction, layout)
    out = tok(output, add_special_tokens=False)["input_ids"]
    with torch.inference_mode():
        logits = lm(torch.tensor([prompt + out])).logits[0]
    return [int((logits[len(prompt) + j - 1] > logits[len(prompt) + j - 1][t]).sum()) + 1 for j, t in enumerate(out)]
