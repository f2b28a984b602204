"""The demo home: areas, simulated devices and scenes created on an empty database."""

from __future__ import annotations

from typing import Any

from assistant.devices import Capability as C
from assistant.devices import Device, DeviceKind, DeviceState
from assistant.registry import Area, Floor, Registry, Scene
from assistant.store import Change

DEMO_HOME_ID = "demo"
DEMO_USER = "demo"

AREAS: list[tuple[str, str, tuple[str, ...]]] = [
    ("kitchen", "kitchen", ()),
    ("living_room", "living room", ("lounge",)),
    ("bedroom", "bedroom", ()),
    ("office", "office", ("study",)),
    ("hallway", "hallway", ("hall",)),
    ("bathroom", "bathroom", ()),
    ("garage", "garage", ()),
    ("porch", "porch", ()),
]

FLOORS: list[tuple[str, str, tuple[str, ...]]] = [
    ("downstairs", "downstairs", ("ground floor",)),
    ("upstairs", "upstairs", ("first floor",)),
]
AREA_FLOORS: dict[str, str] = {
    "kitchen": "downstairs", "living_room": "downstairs", "hallway": "downstairs", "garage": "downstairs",
    "porch": "downstairs", "bedroom": "upstairs", "office": "upstairs", "bathroom": "upstairs",
}  # fmt: skip

ON_OFF = frozenset({C.ON_OFF})
DIMMABLE = frozenset({C.ON_OFF, C.BRIGHTNESS})

# id, name, kind, area, capabilities, aliases, initial state
DEVICES: list[tuple[str, str, DeviceKind, str, frozenset[C], tuple[str, ...], dict[str, Any]]] = [
    ("kitchen_lights", "kitchen lights", DeviceKind.LIGHT, "kitchen", DIMMABLE | {C.COLOR}, (),
     {"on": False, "brightness": 100, "color": "white"}),
    ("living_room_lamp", "living room lamp", DeviceKind.LIGHT, "living_room", DIMMABLE, (),
     {"on": False, "brightness": 100}),
    ("floor_lamp", "floor lamp", DeviceKind.LIGHT, "living_room", DIMMABLE, (), {"on": False, "brightness": 100}),
    ("bedroom_ceiling_light", "bedroom ceiling light", DeviceKind.LIGHT, "bedroom", DIMMABLE | {C.COLOR_TEMP}, (),
     {"on": False, "brightness": 100, "color_temp": 3000}),
    ("desk_lamp", "desk lamp", DeviceKind.LIGHT, "office", ON_OFF, (), {"on": False}),
    ("hallway_light", "hallway light", DeviceKind.LIGHT, "hallway", DIMMABLE, (), {"on": False, "brightness": 100}),
    ("porch_light", "porch light", DeviceKind.LIGHT, "porch", ON_OFF, (), {"on": False}),
    ("coffee_maker", "coffee maker", DeviceKind.SWITCH, "kitchen", ON_OFF, ("coffee machine",), {"on": False}),
    ("tv", "TV", DeviceKind.SWITCH, "living_room", ON_OFF, ("television",), {"on": False}),
    ("thermostat", "thermostat", DeviceKind.CLIMATE, "living_room", frozenset({C.SETPOINT, C.TEMPERATURE}), (),
     {"target_temperature": 20.0, "current_temperature": 20.5}),
    ("front_door", "front door", DeviceKind.LOCK, "hallway", frozenset({C.LOCK}), ("front door lock",),
     {"locked": True}),
    ("garage_door", "garage door", DeviceKind.COVER, "garage", frozenset({C.POSITION}), (), {"position": 0}),
    ("bedroom_blinds", "bedroom blinds", DeviceKind.COVER, "bedroom", frozenset({C.POSITION}), (),
     {"position": 0}),
    ("ceiling_fan", "ceiling fan", DeviceKind.FAN, "bedroom", ON_OFF, (), {"on": False}),
    ("bathroom_sensor", "bathroom sensor", DeviceKind.SENSOR, "bathroom",
     frozenset({C.TEMPERATURE, C.HUMIDITY}), (), {"current_temperature": 21.5, "humidity": 48.0}),
    ("hallway_motion", "hallway motion sensor", DeviceKind.SENSOR, "hallway", frozenset({C.MOTION}), (),
     {"motion": False}),
]  # fmt: skip

SCENES: list[tuple[str, str, dict[str, dict[str, Any]]]] = [
    ("movie_night", "movie night", {
        "living_room_lamp": {"on": True, "brightness": 20},
        "floor_lamp": {"on": False},
        "kitchen_lights": {"on": False},
        "tv": {"on": True},
    }),
    ("good_morning", "good morning", {
        "bedroom_blinds": {"position": 100},
        "bedroom_ceiling_light": {"on": True, "brightness": 80},
        "coffee_maker": {"on": True},
        "thermostat": {"target_temperature": 21.0},
    }),
    ("bedtime", "bedtime", {
        "kitchen_lights": {"on": False},
        "living_room_lamp": {"on": False},
        "floor_lamp": {"on": False},
        "desk_lamp": {"on": False},
        "hallway_light": {"on": False},
        "tv": {"on": False},
        "front_door": {"locked": True},
        "bedroom_blinds": {"position": 0},
        "thermostat": {"target_temperature": 18.0},
    }),
]  # fmt: skip


def demo_home_change(registry: Registry, home_id: str = DEMO_HOME_ID, name: str = "Demo home") -> Change:
    """The demo home, staged as one change (it appears in the registry once committed)."""
    return registry.create_home(
        home_id,
        name,
        floors=[Floor(floor_id, floor_name, aliases) for floor_id, floor_name, aliases in FLOORS],
        areas=[Area(area_id, area_name, aliases, AREA_FLOORS.get(area_id)) for area_id, area_name, aliases in AREAS],
        devices=[
            (
                Device(home_id, dev_id, dev_name, kind, area, caps, "virtual", aliases, f"virtual:{dev_id}"),
                DeviceState.from_dict(state),
            )
            for dev_id, dev_name, kind, area, caps, aliases, state in DEVICES
        ],
        scenes=[
            Scene(scene_id, scene_name, {k: DeviceState.from_dict(v) for k, v in states.items()})
            for scene_id, scene_name, states in SCENES
        ],
    )
