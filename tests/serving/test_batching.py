"""Adaptive micro-batching on a real model: full batches under load, none for a lone client."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from serving_helpers import NUMERIC

import headway
from headway.registry.models import load_model
from headway.serving.batcher import Batcher, Pending
from headway.serving.codec import Inputs
from headway.serving.model import Outputs, ServedModel
from headway.workspace import Workspace

ROWS = headway.make_churn(8, seed=3)[NUMERIC]


def _serve(ws: Workspace, uri: str, clients: int, requests: int) -> list[int]:
    """``clients`` concurrent clients each send ``requests`` one-row requests in turn; the
    rows of each model call, as the prediction log would get them."""
    model = ServedModel(load_model(uri, trusted=True, workspace=ws))
    sizes: list[int] = []

    def on_batch(
        uri: str, items: list[Pending], inputs: Inputs, outputs: Outputs | None, *_: object
    ) -> None:
        assert inputs.rows == sum(i.inputs.rows for i in items)
        sizes.append(inputs.rows)

    async def run() -> None:
        with ThreadPoolExecutor(1) as pool:
            batcher = Batcher(model, pool, on_batch=on_batch)

            async def client(k: int) -> None:
                row = ROWS.iloc[[k]]
                inputs = Inputs(columns={c: row[c].to_numpy(float) for c in NUMERIC}, rows=1)
                for i in range(requests):
                    outputs = await batcher.submit(inputs, f"{k}-{i}", "primary", 0, 0.0)
                    assert np.array_equal(outputs.prediction, model.loaded.native.predict(row))

            await asyncio.gather(*(client(k) for k in range(clients)))
            await batcher.close()

    asyncio.run(run())
    return sizes


def test_under_load_a_batch_waits_for_every_client_in_flight(served: Workspace) -> None:
    # v5 takes 50 ms a call: answered clients come back long before the next call is due,
    # and the batcher waits for all of them instead of alternating between half batches.
    sizes = _serve(served, "models:/churn/5", clients=8, requests=4)
    assert sum(sizes) == 32
    assert sizes[1:] == [8] * (len(sizes) - 1)


def test_a_lone_client_is_never_batched_with_itself(served: Workspace) -> None:
    assert _serve(served, "models:/churn/1", clients=1, requests=5) == [1] * 5
