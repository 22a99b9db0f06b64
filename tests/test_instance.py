"""Instances: validation, JSON and trace IO, and every bad-input case through the API and CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest

from lpsched.cli import main
from lpsched.instance import Instance, InstanceError, Request, load, read_json, read_trace, write_json
from lpsched.library import instance_files, load_instance


def write(tmp_path, name, data):
    p = tmp_path / name
    p.write_text(data if isinstance(data, str) else json.dumps(data))
    return p


GOOD = {"name": "ok", "memory": 20,
        "requests": [{"id": "a", "prefill": 3, "decode": 5, "arrival": 0},
                     {"id": "b", "prefill": 1, "decode": 2}]}

# (description, mutation of GOOD, expected request id in the message, expected words)
BAD_CASES = [
    ("non-integer prefill", lambda d: d["requests"][0].update(prefill=2.5), "a",
     "prefill must be an integer"),
    ("string decode", lambda d: d["requests"][1].update(decode="7"), "b", "decode must be an integer"),
    ("negative prefill", lambda d: d["requests"][1].update(prefill=-1), "b", "prefill must be >= 0"),
    ("decode zero", lambda d: d["requests"][0].update(decode=0), "a", "decode must be >= 1"),
    ("negative arrival", lambda d: d["requests"][1].update(arrival=-3), "b", "arrival must be >= 0"),
    ("duplicate id", lambda d: d["requests"][1].update(id="a"), "a", "duplicate id"),
    ("missing decode", lambda d: d["requests"][1].pop("decode"), "b", "missing field 'decode'"),
    ("missing id", lambda d: d["requests"][1].pop("id"), "#1", "missing field 'id'"),
    ("too large", lambda d: d["requests"][0].update(prefill=16), "a", "can never run"),
    ("boolean decode", lambda d: d["requests"][0].update(decode=True), "a", "decode must be an integer"),
]


@pytest.mark.parametrize("desc,mutate,rid,words", BAD_CASES, ids=[c[0] for c in BAD_CASES])
def test_bad_request_refused_by_api_and_cli(tmp_path, capsys, desc, mutate, rid, words):
    data = json.loads(json.dumps(GOOD))
    mutate(data)
    path = write(tmp_path, "bad.json", data)
    with pytest.raises(InstanceError) as err:
        read_json(path)
    msg = str(err.value)
    assert str(path) in msg and f"request {rid!r}" in msg and words in msg
    assert err.value.request == rid
    code = main(["info", str(path)])
    out = capsys.readouterr()
    assert code == 2
    lines = out.err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in out.err
    assert f"request {rid!r}" in lines[0] and words in lines[0] and str(path) in lines[0]


@pytest.mark.parametrize("text,words", [
    ("{not json", "malformed JSON at line 1"),
    ("[1, 2]", "top level must be a JSON object"),
    ('{"memory": 10}', "missing field 'requests'"),
    ('{"requests": []}', "missing field 'memory'"),
    ('{"memory": 0, "requests": [{"id": "a", "prefill": 0, "decode": 1}]}', "memory must be a positive"),
    ('{"memory": 10, "requests": []}', "at least one request"),
])
def test_bad_file_refused(tmp_path, capsys, text, words):
    path = write(tmp_path, "bad.json", text)
    with pytest.raises(InstanceError, match=words):
        read_json(path)
    assert main(["solve", str(path), "--algo", "fcfs"]) == 2
    err = capsys.readouterr().err
    assert words in err and str(path) in err and "Traceback" not in err


def test_missing_file_and_unknown_name(tmp_path, capsys):
    assert main(["info", str(tmp_path / "nope.json")]) == 2
    assert "no such file" in capsys.readouterr().err


def test_json_round_trip(tmp_path):
    inst = read_json(write(tmp_path, "ok.json", GOOD))
    assert inst.n == 2 and inst.memory == 20 and inst.ids == ("a", "b")
    assert inst.arrival.tolist() == [0, 0]
    out = tmp_path / "out.json"
    write_json(inst, out)
    assert read_json(out) == inst


def test_instance_is_immutable():
    inst = Instance(10, [Request("a", 1, 2)])
    with pytest.raises(ValueError):
        inst.decode[0] = 5
    with pytest.raises(AttributeError):
        inst.memory = 3  # type: ignore[misc]


def test_instance_pickles_and_stays_validated_and_immutable():
    import pickle

    inst = Instance(10, [Request("a", 1, 2), Request("b", 3, 4, arrival=5)], name="p",
                    metadata={"source": "test", "optimum": 7})
    back = pickle.loads(pickle.dumps(inst))
    assert back.ids == inst.ids and back.name == "p" and back.memory == 10
    for col in ("prefill", "decode", "arrival"):
        assert getattr(back, col).tolist() == getattr(inst, col).tolist()
        assert not getattr(back, col).flags.writeable
    assert dict(back.metadata) == {"source": "test", "optimum": 7}
    assert back.index("b") == 1


def test_from_arrays_refuses_fractions():
    with pytest.raises(InstanceError, match="r1.*decode must be an integer"):
        Instance.from_arrays(10, [1, 1], [2, 2.5])


def test_vidur_trace_with_arrivals(tmp_path):
    p = write(tmp_path, "t.csv", "arrived_at,num_prefill_tokens,num_decode_tokens\n"
                                  "0.0,10,5\n0.05,3,2\n0.26,4,4\n")
    inst = read_trace(p, memory=100)
    assert inst.ids == ("1", "2", "3")
    assert inst.prefill.tolist() == [10, 3, 4]
    assert inst.arrival.tolist() == [0, 2, 10]  # 0.025 s per step
    assert read_trace(p, memory=100, step_seconds=0.1).arrival.tolist() == [0, 0, 2]
    assert read_trace(p, memory=100, offline=True).offline
    assert read_trace(p, memory=100, start=1, limit=1).ids == ("2",)


def test_vidur_trace_without_arrivals_and_extra_columns(tmp_path):
    p = write(tmp_path, "a.csv", "num_prefill_tokens,num_decode_tokens,num_total_tokens,pd_ratio\n"
                                  "3772,54,3826,69.8\n2015,156,2171,12.9\n")
    inst = read_trace(p, memory=8192)
    assert inst.offline and inst.decode.tolist() == [54, 156]


def test_azure_original_layout(tmp_path):
    p = write(tmp_path, "az.csv", "TIMESTAMP,ContextTokens,GeneratedTokens\n"
                                   "2023-11-16 18:15:46.6805900,374,44\n"
                                   "2023-11-16 18:15:47.6805900,396,109\n")
    inst = read_trace(p, memory=4096, step_seconds=0.5)
    assert inst.prefill.tolist() == [374, 396]
    assert inst.arrival.tolist() == [0, 2]


def test_trace_sampling_is_seeded(tmp_path):
    rows = "\n".join(f"{k * 0.1},{k % 7 + 1},{k % 5 + 1}" for k in range(50))
    p = write(tmp_path, "s.csv", "arrived_at,num_prefill_tokens,num_decode_tokens\n" + rows + "\n")
    a = read_trace(p, memory=100, sample=10, seed=3)
    b = read_trace(p, memory=100, sample=10, seed=3)
    c = read_trace(p, memory=100, sample=10, seed=4)
    assert a == b and a != c and a.n == 10
    assert list(map(int, a.ids)) == sorted(map(int, a.ids))


@pytest.mark.parametrize("text,rid,words", [
    ("arrived_at,num_prefill_tokens,num_decode_tokens\n0,1,2\n0.1,x,2\n", "2", "prefill must be an integer"),
    ("arrived_at,num_prefill_tokens,num_decode_tokens\n0,1,2\n0.1,3,0\n", "2", "decode must be >= 1"),
    ("arrived_at,num_prefill_tokens,num_decode_tokens\n0,1,2\n0.1,3\n", "2", "fields"),
    ("arrived_at,num_prefill_tokens,num_decode_tokens\n0,1,2\n0.1,90,20\n", "2", "can never run"),
    ("a,b,c\n1,2,3\n", None, "unrecognised CSV header"),
])
def test_bad_trace_refused(tmp_path, capsys, text, rid, words):
    p = write(tmp_path, "bad.csv", text)
    with pytest.raises(InstanceError, match=words) as err:
        read_trace(p, memory=100)
    if rid is not None:
        assert err.value.request == rid
    assert main(["info", str(p), "--memory", "100"]) == 2
    err_text = capsys.readouterr().err
    assert words in err_text and str(p) in err_text


def test_trace_needs_memory(tmp_path):
    p = write(tmp_path, "t.csv", "num_prefill_tokens,num_decode_tokens\n1,2\n")
    with pytest.raises(InstanceError, match="needs a memory budget"):
        load(p)


def test_bundled_tiny_instances_load_with_optima():
    files = instance_files("tiny")
    assert len(files) >= 4
    for f in files:
        inst = load_instance(f.stem)
        assert inst.metadata["optimum"] >= int(inst.decode.sum())
        assert "proof" in inst.metadata


def test_summary_statistics():
    inst = Instance.from_arrays(50, [1, 2, 3], [4, 5, 6], [0, 0, 7])
    info = inst.summary()
    assert info["n"] == 3 and not info["offline"]
    assert info["sum_decode"] == 15
    assert info["sum_area"] == int(np.sum([1 * 4 + 10, 2 * 5 + 15, 3 * 6 + 21]))
