#!/usr/bin/env python3
"""Three sources about the same products, for the multi-source join benchmark.

    bench/gen_sources.py OUT_DIR [N] [PAD]

writes, for N keys (default 1,000,000):

  erp.csv      item master: item_code,item_name,list_price,stock_qty,modified
               (keys in order, SKU-0000000 …)
  wms.jsonl    stock: {sku, on_hand, reserved, updated_at}, the same keys in
               another order, SKUs lower-cased (the mapping upper-cases them),
               and 1 % of the keys sent twice (an older snapshot first)
  shop.jsonl   storefront variants: {product: {id, title, status}, variant:
               {sku, price, inventory_quantity, updated_at}}: 95 % of the
               keys, plus 5 % keys no other source has; 1 % of the prices
               differ from the ERP's by more than the tolerance

PAD (default 0) adds a `description` of PAD characters to every record of
every source, a field the benchmark mapping never reads: the join's memory
should not change with it (only the fields a mapping reads are kept).

Deterministic: the same N and PAD always give the same files.
"""

import math
import os
import sys


def sku(i: int) -> str:
    return f"SKU-{i:07d}"


def main() -> None:
    out = sys.argv[1]
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 1_000_000
    pad = int(sys.argv[3]) if len(sys.argv) > 3 else 0
    filler = "x" * pad
    csv_pad = f",{filler}" if pad else ""
    json_pad = f',"description":"{filler}"' if pad else ""
    os.makedirs(out, exist_ok=True)

    # A fixed permutation of 0..n-1 (multiplying by a number coprime with n).
    step = 7_919
    while math.gcd(step, n) != 1:
        step += 2

    def price(i: int) -> str:
        return f"{10 + (i % 9000) / 100:.2f}"

    with open(os.path.join(out, "erp.csv"), "w") as f:
        f.write("item_code,item_name,list_price,stock_qty,modified" + (",description" if pad else "") + "\n")
        for i in range(n):
            f.write(
                f"{sku(i)},ITEM {i},{price(i)},{i % 500},2025-06-{1 + i % 28:02d} 10:{i % 60:02d}:00.000000{csv_pad}\n"
            )

    with open(os.path.join(out, "wms.jsonl"), "w") as f:
        for j in range(n):
            i = (j * step) % n
            s = sku(i).lower()
            if i % 100 == 0:  # an older snapshot first: a duplicate the join resolves
                f.write(f'{{"sku":"{s}","on_hand":0,"reserved":0,"updated_at":"2025-07-01T00:00:00Z"{json_pad}}}\n')
            f.write(
                f'{{"sku":"{s}","on_hand":{i % 500},"reserved":{i % 7},'
                f'"updated_at":"2025-07-02T{i % 24:02d}:00:00Z"{json_pad}}}\n'
            )

    with open(os.path.join(out, "shop.jsonl"), "w") as f:
        extra = n // 20
        for i in list(range(extra, n)) + list(range(n, n + extra)):
            p = price(i)
            if i % 100 == 1:  # drifted price
                p = f"{float(p) + 1:.2f}"
            f.write(
                f'{{"product":{{"id":{1_000_000_000 + i},"title":"Item {i}","status":"active"{json_pad}}},'
                f'"variant":{{"sku":"{sku(i)}","price":"{p}","inventory_quantity":{(i % 500) - (i % 7)},'
                f'"updated_at":"2025-07-02T12:00:00-05:00"}}}}\n'
            )


if __name__ == "__main__":
    main()
