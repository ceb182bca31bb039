"""Pure domain: value types, KRX rules, costs and the holdings Book. No I/O, no adapters."""
