"""Floors, areas and scenes over HTTP: create, update, delete; typed 4xx; durable; home-isolated; documented."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import Api, make_config, start_api


async def test_area_lifecycle_and_voice_use(api: Api) -> None:
    status, body = await api.call("POST", "/api/v1/areas", json={"id": "loft", "name": "Loft", "floor": "upstairs"})
    assert status == 201 and body == {"id": "loft", "name": "Loft", "aliases": [], "floor": "upstairs"}
    status, _ = await api.call(
        "POST", "/api/v1/devices", json={"id": "loft_lamp", "name": "reading lamp", "kind": "light", "area": "loft"}
    )
    assert status == 201
    r = await api.say("turn on the lights in the loft", "a")
    assert [a["device_id"] for a in r["reply"]["actions"]] == ["loft_lamp"], r
    status, body = await api.call("PATCH", "/api/v1/areas/loft", json={"name": "attic"})
    assert status == 200 and body["name"] == "attic" and body["aliases"] == ["Loft"]
    r = await api.say("turn off the lights in the loft", "a")  # the old name still works
    assert [a["device_id"] for a in r["reply"]["actions"]] == ["loft_lamp"], r
    status, body = await api.call("DELETE", "/api/v1/areas/loft")
    assert status == 409 and body["error"]["code"] == "conflict"
    assert body["error"]["details"]["devices"] == ["loft_lamp"]
    await api.call("PATCH", "/api/v1/devices/loft_lamp", json={"area": "bedroom"})
    status, _ = await api.call("DELETE", "/api/v1/areas/loft")
    assert status == 204
    status, body = await api.call("GET", "/api/v1/areas/loft")
    assert status == 404 and body["error"]["code"] == "unknown_area"
    r = await api.say("turn on the lights in the attic", "b")
    assert r["reply"]["actions"] == []


async def test_bad_input_is_refused_with_typed_errors_and_changes_nothing(api: Api) -> None:
    cases = [
        ("POST", "/api/v1/areas", {"id": "x"}, 422),
        ("POST", "/api/v1/areas", {"id": "has space", "name": "x"}, 422),
        ("POST", "/api/v1/areas", {"id": "x", "name": "x", "floor": "basement"}, 422),
        ("POST", "/api/v1/areas", {"id": "kitchen", "name": "another kitchen"}, 409),
        ("PATCH", "/api/v1/areas/kitchen", {}, 422),
        ("PATCH", "/api/v1/areas/kitchen", {"colour": "red"}, 422),
        ("PATCH", "/api/v1/areas/nowhere", {"name": "x"}, 404),
        ("POST", "/api/v1/floors", {"id": "upstairs", "name": "up"}, 409),
        ("POST", "/api/v1/scenes", {"id": "s", "name": "s", "states": {}}, 422),
        ("POST", "/api/v1/scenes", {"id": "s", "name": "s", "states": {"nope": {"on": True}}}, 422),
        ("POST", "/api/v1/scenes", {"id": "s", "name": "s", "states": {"floor_lamp": {"brightness": 500}}}, 422),
        ("POST", "/api/v1/scenes", {"id": "s", "name": "s", "states": {"floor_lamp": {"on": "yes"}}}, 422),
        ("POST", "/api/v1/scenes", {"id": "bedtime", "name": "b", "states": {"floor_lamp": {"on": True}}}, 409),
        ("DELETE", "/api/v1/scenes/nope", None, 404),
        ("DELETE", "/api/v1/floors/nope", None, 404),
    ]
    for method, path, body, expected in cases:
        status, answer = await api.call(method, path, json=body) if body is not None else await api.call(method, path)
        assert status == expected, (method, path, body, answer)
        assert answer["error"]["code"] and answer["error"]["message"]
    _, areas = await api.call("GET", "/api/v1/areas")
    assert len(areas["areas"]) == 8
    _, scenes = await api.call("GET", "/api/v1/scenes")
    assert {s["id"] for s in scenes["scenes"]} == {"movie_night", "good_morning", "bedtime"}


async def test_scene_lifecycle_by_api_and_voice(api: Api) -> None:
    states = {"floor_lamp": {"on": True, "brightness": 30}, "tv": {"on": True}}
    status, body = await api.call("POST", "/api/v1/scenes", json={"id": "reading", "name": "reading time",
                                                                   "states": states})  # fmt: skip
    assert status == 201 and body["states"] == states
    r = await api.say("activate reading time", "s")
    assert r["reply"]["kind"] == "done", r
    _, lamp = await api.call("GET", "/api/v1/devices/floor_lamp")
    assert lamp["state"]["brightness"] == 30 and lamp["state"]["on"] is True
    status, body = await api.call("PATCH", "/api/v1/scenes/reading", json={"states": {"floor_lamp": {"on": False}}})
    assert status == 200 and body["states"] == {"floor_lamp": {"on": False}}
    await api.say("activate reading time", "s")
    _, lamp = await api.call("GET", "/api/v1/devices/floor_lamp")
    assert lamp["state"]["on"] is False
    status, _ = await api.call("DELETE", "/api/v1/scenes/reading")
    assert status == 204
    status, _ = await api.call("GET", "/api/v1/scenes/reading")
    assert status == 404


async def test_floors_drive_every_light_upstairs(api: Api) -> None:
    status, _ = await api.call("POST", "/api/v1/floors", json={"id": "cellar", "name": "basement"})
    assert status == 201
    status, _ = await api.call("PATCH", "/api/v1/areas/garage", json={"floor": "cellar"})
    assert status == 200
    await api.call("POST", "/api/v1/devices", json={"id": "garage_light", "name": "garage light", "kind": "light",
                                                    "area": "garage"})  # fmt: skip
    r = await api.say("turn on every light in the basement", "f")
    assert [a["device_id"] for a in r["reply"]["actions"]] == ["garage_light"], r
    status, _ = await api.call("DELETE", "/api/v1/floors/cellar")
    assert status == 204
    _, area = await api.call("GET", "/api/v1/areas/garage")
    assert area["floor"] is None
    _, floors = await api.call("GET", "/api/v1/floors")
    assert [f["id"] for f in floors["floors"]] == ["downstairs", "upstairs"]


async def test_structure_is_durable_and_home_isolated(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    runner, api = await start_api(config)
    try:
        await api.call("POST", "/api/v1/areas", json={"id": "loft", "name": "loft", "aliases": ["attic"]})
        await api.call("POST", "/api/v1/scenes", json={"id": "calm", "name": "calm", "states": {"tv": {"on": False}}})
        other_user = await api.core.seed_demo("other", "Other home", "neighbour")
        other = api.core.auth.create_token(other_user, "other", "test")
        for path in ("/api/v1/areas/loft", "/api/v1/scenes/calm"):
            status, _ = await api.call("GET", path, token=other)
            assert status == 404
            status, _ = await api.call("DELETE", path, token=other)
            assert status == 404
        status, _ = await api.call("PATCH", "/api/v1/areas/loft", token=other, json={"name": "mine"})
        assert status == 404
    finally:
        await api.session.close()
        await runner.cleanup()
    runner, api = await start_api(config)  # a restart reads it all back from SQLite
    try:
        _, area = await api.call("GET", "/api/v1/areas/loft")
        assert area == {"id": "loft", "name": "loft", "aliases": ["attic"], "floor": None}
        _, scene = await api.call("GET", "/api/v1/scenes/calm")
        assert scene["states"] == {"tv": {"on": False}}
        _, bedroom = await api.call("GET", "/api/v1/areas/bedroom")
        assert bedroom["floor"] == "upstairs"
    finally:
        await api.session.close()
        await runner.cleanup()


async def test_the_new_routes_are_in_the_openapi_document(api: Api) -> None:
    status, doc = await api.call("GET", "/api/v1/openapi.json")
    assert status == 200
    for path, methods in {
        "/api/v1/areas": {"get", "post"},
        "/api/v1/areas/{area_id}": {"get", "patch", "delete"},
        "/api/v1/floors": {"get", "post"},
        "/api/v1/floors/{floor_id}": {"patch", "delete"},
        "/api/v1/scenes": {"get", "post"},
        "/api/v1/scenes/{scene_id}": {"get", "patch", "delete"},
    }.items():
        assert methods <= set(doc["paths"][path]), path
    assert doc["paths"]["/api/v1/areas"]["post"]["requestBody"]["content"]["application/json"]["schema"]["required"]
