# A data collector that imports its helper module from its own folder and stores bars in SQLite.
import sqlite3
import sys

from creon_api import Chart, Codes

database = sys.argv[1] if len(sys.argv) > 1 else ":memory:"
codes = Codes()
chart = Chart()
connection = sqlite3.connect(database)
connection.execute("create table if not exists bars (code, day, hhmm, o, h, l, c, v)")
picked = [c for c in codes.listing(1) if not codes.is_etf(c)][:3]
for code in picked:
    rows = chart.ohlcv(code, "D", 60) + chart.ohlcv(code, "m", 30, period=5)
    connection.executemany(
        "insert into bars values (?, ?, ?, ?, ?, ?, ?, ?)", [(code, *row) for row in rows]
    )
connection.commit()
count = connection.execute("select count(*) from bars").fetchone()[0]
checks = connection.execute("select count(*) from bars where l > h or c > h or c < l").fetchone()[0]
print("stored", count, "bad bars", checks, "codes", len(picked))
