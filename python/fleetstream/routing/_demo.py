"""A generated day of deliveries around a Berlin hub, for ``fleetstream demo`` and examples."""

from __future__ import annotations

import random

from fleetstream.routing._model import Model


def delivery_day(clients: int = 60, seed: int = 7) -> Model:
    """``clients`` orders with 2-6 parcels, a 4-minute drop each, in morning/midday/afternoon slots,
    served by vans (60 parcels, 22 km/h in town) from one hub between 08:00 and 18:00."""
    rng = random.Random(seed)
    m = Model()
    hub = m.add_depot(lat=52.5170, lon=13.3889, name="hub")
    m.add_vehicle_type(count=max(2, clients // 8), capacity=[60], start=hub, shift=("08:00", "18:00"),
                       max_duration="9h", fixed_cost=25, cost_per_km=0.6, speed_kmh=22, name="van")
    slots = [("08:00", "12:00"), ("10:00", "14:00"), ("13:00", "17:00"), ("08:00", "18:00")]
    for i in range(clients):
        m.add_client(lat=52.5170 + rng.gauss(0, 0.025), lon=13.3889 + rng.gauss(0, 0.04), demand=[rng.randint(2, 6)],
                     service="4m", time_windows=[rng.choice(slots)], name=f"order-{i:03d}")
    return m
