/* assignment.h: optimal one-to-one assignment (linear sum assignment) of a small rectangular
 * cost matrix, with a cost threshold above which a pair is never assigned. Used by the
 * tracker to associate detections with tracks. Building the costs (IoU, appearance) is left
 * to the caller. Algorithm: the Hungarian method in its O(n^3) shortest-augmenting-path form
 * with row/column potentials (Kuhn 1955; Munkres 1957; Jonker & Volgenant 1987). */
#ifndef EMO_PIPELINE_ASSIGNMENT_H
#define EMO_PIPELINE_ASSIGNMENT_H

#define ASG_MAX 64 /* largest n_rows and n_cols */

/* Finds the assignment minimising
 *     sum of cost[i][j] over assigned pairs (i, j)  +  max_cost * (number of unassigned rows)
 * over all partial one-to-one assignments that use only allowed pairs, a pair being allowed
 * when its cost is finite and <= max_cost. In words: a pair is taken only when it is no worse
 * than leaving its row unmatched, and the total is optimal (not greedy). max_cost = +INFINITY
 * maximises the number of assigned pairs first, then minimises their total cost.
 * cost is (n_rows, n_cols) row-major (borrowed); row_to_col (n_rows) receives the column of
 * each row or -1. 1 <= n_rows, n_cols <= ASG_MAX (0 rows or columns is allowed too and assigns
 * nothing). Uses only fixed-size stack scratch (about 40 KB); allocates nothing.
 * Returns the number of assigned pairs, or EMO_EINVAL (negative) for NULL pointers, sizes out
 * of range or a NaN max_cost. Thread-safe. */
int asg_solve(const float *cost, int n_rows, int n_cols, float max_cost, int *row_to_col);

#endif
