"""The contracts: every extract and every table, its grain, types, codes and caveats."""
