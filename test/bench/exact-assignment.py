#!/usr/bin/python3
"""The exact optimum of a budget on mean colour, for `npm run bench:budgets`.

Usage: exact-assignment.py COSTS CELLS PICTURES MODE [USES]

COSTS holds CELLS x PICTURES float32 (row-major): the CIEDE2000 between each cell's mean colour
and the nearest mean colour of the picture's crops. MODE is `unique`, `max-uses` (each picture
at most USES times) or `use-all` (each picture at least once). Prints one JSON object: the mean
cost per cell without a budget (each cell its nearest picture) and with it, by SciPy's
linear_sum_assignment over the columns the budget makes.
"""
import json
import sys

import numpy as np
from scipy.optimize import linear_sum_assignment


def main():
    path, cells, pictures, mode = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    costs = np.fromfile(path, dtype=np.float32).reshape(cells, pictures).astype(np.float64)
    nearest = costs.min(axis=1)
    if mode == 'unique':
        columns = costs
    elif mode == 'max-uses':
        columns = np.repeat(costs, int(sys.argv[5]), axis=1)
    elif mode == 'use-all':
        # One column per picture (its use that must be), and the rest of the cells free to take
        # their nearest picture: n - p columns costing each cell its nearest.
        columns = np.hstack([costs, np.repeat(nearest[:, None], cells - pictures, axis=1)])
    else:
        raise SystemExit(f'unknown mode {mode}')
    rows, chosen = linear_sum_assignment(columns)
    print(json.dumps({'free': float(nearest.mean()), 'budget': float(columns[rows, chosen].mean())}))


if __name__ == '__main__':
    main()
