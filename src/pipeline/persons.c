/* persons.c: the fusion of faces and voices into persons (see persons.h for the rules).
 *
 * Each delivered segment leaves records, one per piece: the segment is cut where the faces that
 * carry its PSN_BIN bins change. A piece keeps its speaker, duration and the PSN_TOP faces with
 * the highest mean speaking score over the frames it covers (0 where a face is not visible). It
 * is carried by face k when k's mean is >= PSN_CARRY and beats the next face's by
 * PSN_CARRY_MARGIN, by nobody on screen (off) when no face reaches PSN_OFF_MAX, by two or more
 * faces at once (an overlap piece, "both") when in its bins of at least PSN_OVERLAP_MIN s two or
 * more faces each reach PSN_CARRY, else it is ambiguous (no clear face).
 *
 * Diarization on short or crosstalk-heavy recordings often puts two or three voices into one
 * speaker, or one voice into two, and gives overlapped speech to one of its voices. The face
 * evidence corrects this before the join:
 *  - split: a speaker with two or more carriers (faces, or off) that each carry at least
 *    PSN_SPLIT_MIN seconds and PSN_SPLIT_SHARE of its talk becomes one unit per carrier (an
 *    overlap piece counts for each of its faces: two faces heard at once are two voices); its
 *    other pieces (overlap ones included) go to the unit of their best face when it is one of
 *    those, else to its largest unit. Any other speaker is one unit.
 *  - merge: units carried by the same face (a split unit's face, or the face that carries alone
 *    at least half of a whole speaker's talk) become one row of the join.
 *  - join: A[r][k] = the mean speaking score of face k over row r's talk time (the duration-
 *    weighted mean of the pieces' means); cost 1 - A, a pair allowed only when A >=
 *    PSN_JOIN_MIN; asg_solve (Hungarian) finds the optimal one-to-one join of rows and faces.
 *    With more than ASG_MAX rows or faces, the ASG_MAX with the most talk time / the strongest
 *    affinity take part (the rest stay unjoined).
 * A face joined to a row is the person of all of its units' speech; the units never joined are,
 * per diarization speaker, one off-screen voice. Each piece's final person follows from its
 * unit, and an overlap piece also goes to each other face that carried it (a face's person is
 * its track id), each with a turn of its own marked overlap: the turns of psn_finish (the RTTM
 * writes them, overlapping). A person's talk time is the sum of its turns; its voice emotion and
 * prosody are its main speaker's (the one that gave it the most talk). Memory at the end: one
 * record per piece (68 bytes). */
#include "pipeline/persons.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"
#include "pipeline/assignment.h"
#include "pipeline/internal.h"

typedef struct hist_entry {
  double t;
  int track; /* 0: marks a frame */
  float score;
} hist_entry;

typedef struct trk_stat {
  int64_t frames;
  double sum_spk[EMO_EXPR_COUNT], sum_lis[EMO_EXPR_COUNT];
  int64_t n_spk, n_lis;
} trk_stat;

#define PSN_TOP 3 /* faces kept per segment record */

typedef struct seg_rec {
  int speaker; /* 0: no speaker or no duration (not joined) */
  double start, end, dur;
  int seg;          /* index of its segment in delivery order */
  int top[PSN_TOP]; /* track ids, best first, 0 = none */
  float mean[PSN_TOP];
  int co[PSN_TOP]; /* an overlap piece: the faces that carried its bins at once (track ids in
                      increasing order, 0-terminated), else co[0] = 0 */
} seg_rec;

typedef struct spk_stat {
  double talk;       /* seconds of its segments */
  double prosody[6]; /* duration-weighted sums: f0_mean (voiced only), f0_min, f0_max,
                        energy_db, voiced_ratio, rate */
  double f0_weight;
} spk_stat;

struct psn_state {
  hist_entry *hist; /* (cap_hist) [head, n_hist) live */
  int head, n_hist, cap_hist;
  trk_stat *trk; /* (cap_trk) index track id - 1 */
  int cap_trk;
  spk_stat *spk; /* (cap_spk) index speaker - 1 */
  int cap_spk;
  double *aff;   /* (cap_spk, cap_trk) summed duration x mean score */
  seg_rec *segs; /* (cap_segs,) every delivered segment, in order */
  int n_segs, cap_segs;
  emo_person *persons;
  int *ids; /* track ids of the persons */
  /* heads' answers (psn_set_heads): per track the sums over speaking / listening frames of
   * the face head's probabilities, per speaker the duration-weighted sum of the voice head's;
   * kept beside trk / spk, with the same capacities */
  const emo_head *fh, *vh;
  int fc, vc;             /* their classes, 0 without */
  double *fsum;           /* (cap_trk, 2, fc): speaking then listening */
  double *vsum;           /* (cap_spk, vc) */
  float *out;             /* the persons' means: (persons, 2 fc + vc) */
  int *spk_ids;           /* the persons' speakers lists */
  int n_delivered;        /* segments delivered */
  emo_person_turn *turns; /* (n_segs,) the final turns */
};

int psn_create(psn_state **out, emoi_err *err) {
  *out = calloc(1, sizeof **out);
  return *out ? EMO_OK : emoi_fail(err, EMO_ENOMEM, "out of memory for persons");
}

void psn_destroy(psn_state **ps) {
  if (!ps || !*ps) return;
  psn_state *s = *ps;
  free(s->hist);
  free(s->trk);
  free(s->spk);
  free(s->aff);
  free(s->persons);
  free(s->ids);
  free(s->fsum);
  free(s->vsum);
  free(s->out);
  free(s->spk_ids);
  free(s->segs);
  free(s->turns);
  free(s);
  *ps = NULL;
}

void psn_begin(psn_state *s) {
  s->head = s->n_hist = 0;
  s->n_segs = 0;
  s->n_delivered = 0;
  if (s->trk) memset(s->trk, 0, (size_t)s->cap_trk * sizeof *s->trk);
  if (s->spk) memset(s->spk, 0, (size_t)s->cap_spk * sizeof *s->spk);
  if (s->aff) memset(s->aff, 0, (size_t)s->cap_spk * (size_t)s->cap_trk * sizeof *s->aff);
  if (s->fsum) memset(s->fsum, 0, (size_t)s->cap_trk * 2 * (size_t)s->fc * sizeof *s->fsum);
  if (s->vsum) memset(s->vsum, 0, (size_t)s->cap_spk * (size_t)s->vc * sizeof *s->vsum);
}

int psn_set_heads(psn_state *s, const emo_head *face, const emo_head *voice, emoi_err *err) {
  free(s->fsum);
  free(s->vsum);
  s->fsum = s->vsum = NULL;
  s->fh = face;
  s->vh = voice;
  s->fc = face ? emo_head_classes(face) : 0;
  s->vc = voice ? emo_head_classes(voice) : 0;
  if (s->fc && s->cap_trk) s->fsum = calloc((size_t)s->cap_trk * 2 * s->fc, sizeof *s->fsum);
  if (s->vc && s->cap_spk) s->vsum = calloc((size_t)s->cap_spk * s->vc, sizeof *s->vsum);
  if ((s->fc && s->cap_trk && !s->fsum) || (s->vc && s->cap_spk && !s->vsum))
    return emoi_fail(err, EMO_ENOMEM, "out of memory for persons");
  return EMO_OK;
}

/* Grows the per-track / per-speaker tables (and the affinity matrix) to hold ids n_trk, n_spk. */
static int grow(psn_state *s, int n_trk, int n_spk, emoi_err *err) {
  if (n_trk <= s->cap_trk && n_spk <= s->cap_spk) return EMO_OK;
  int ct = s->cap_trk, cs = s->cap_spk;
  while (ct < n_trk) ct = ct ? 2 * ct : 16;
  while (cs < n_spk) cs = cs ? 2 * cs : 8;
  trk_stat *t = emoi_grow_copy(s->trk, (size_t)s->cap_trk, (size_t)ct, sizeof *t);
  spk_stat *p = emoi_grow_copy(s->spk, (size_t)s->cap_spk, (size_t)cs, sizeof *p);
  double *a = calloc((size_t)ct * (size_t)cs, sizeof *a);
  double *fs = s->fc ? emoi_grow_copy(s->fsum, (size_t)s->cap_trk * 2 * s->fc,
                                      (size_t)ct * 2 * s->fc, sizeof *fs)
                     : NULL;
  double *vs =
      s->vc ? emoi_grow_copy(s->vsum, (size_t)s->cap_spk * s->vc, (size_t)cs * s->vc, sizeof *vs)
            : NULL;
  if (!t || !p || !a || (s->fc && !fs) || (s->vc && !vs)) {
    free(t);
    free(p);
    free(a);
    free(fs);
    free(vs);
    return emoi_fail(err, EMO_ENOMEM, "out of memory for persons");
  }
  free(s->fsum);
  free(s->vsum);
  s->fsum = fs;
  s->vsum = vs;
  for (int i = 0; i < s->cap_spk; i++)
    for (int k = 0; k < s->cap_trk; k++) a[(size_t)i * ct + k] = s->aff[(size_t)i * s->cap_trk + k];
  free(s->trk);
  free(s->spk);
  free(s->aff);
  s->trk = t;
  s->spk = p;
  s->aff = a;
  s->cap_trk = ct;
  s->cap_spk = cs;
  return EMO_OK;
}

static int hist_push(psn_state *s, double t, int track, float score, emoi_err *err) {
  if (s->n_hist == s->cap_hist) {
    if (s->head > 0) {
      memmove(s->hist, s->hist + s->head, (size_t)(s->n_hist - s->head) * sizeof *s->hist);
      s->n_hist -= s->head;
      s->head = 0;
    }
    if (s->n_hist == s->cap_hist) {
      int cap = s->cap_hist ? 2 * s->cap_hist : 1024;
      hist_entry *h = realloc(s->hist, (size_t)cap * sizeof *h);
      if (!h) return emoi_fail(err, EMO_ENOMEM, "out of memory for persons");
      s->hist = h;
      s->cap_hist = cap;
    }
  }
  hist_entry *e = &s->hist[s->n_hist++];
  e->t = t;
  e->track = track;
  e->score = score;
  return EMO_OK;
}

int psn_frame(psn_state *s, emo_frame_result *f, const float *evidence, int audio_visual,
              int voiced, emoi_err *err) {
  f->persons = 1;
  if (f->frame < 0) return EMO_OK;
  int rc = hist_push(s, f->t, 0, 0.0f, err);
  for (int i = 0; rc == EMO_OK && i < f->face_count; i++) {
    emo_track_face *x = (emo_track_face *)&f->faces[i];
    float e = evidence ? evidence[i] : -1.0f;
    float sc = -1.0f;
    if (e >= 0.0f) sc = audio_visual ? e : (voiced < 0 ? -1.0f : e * (float)voiced);
    x->speaking = sc;
    x->person = x->track_id; /* an identity per track id: re-identification reuses ids */
    if (x->track_id <= 0) continue;
    rc = grow(s, x->track_id, 0, err);
    if (rc != EMO_OK) break;
    trk_stat *ts = &s->trk[x->track_id - 1];
    ts->frames++;
    if (sc >= 0.0f && x->dominant >= 0) {
      double *sum = sc >= PSN_SPEAKING ? ts->sum_spk : ts->sum_lis;
      for (int k = 0; k < EMO_EXPR_COUNT; k++) sum[k] += x->expression[k];
      if (s->fc && x->custom && x->head == s->fh) {
        double *fs = s->fsum +
                     ((size_t)(x->track_id - 1) * 2 + (sc >= PSN_SPEAKING ? 0 : 1)) * (size_t)s->fc;
        for (int k = 0; k < s->fc; k++) fs[k] += x->custom[k];
      }
      if (sc >= PSN_SPEAKING)
        ts->n_spk++;
      else
        ts->n_lis++;
    }
    rc = hist_push(s, f->t, x->track_id, sc, err);
  }
  return rc;
}

void psn_trim(psn_state *s, double t) {
  while (s->head < s->n_hist && s->hist[s->head].t < t) s->head++;
  if (s->head == s->n_hist) s->head = s->n_hist = 0;
}

/* The carrier of a segment: a track id, PSN_OFF (nobody on screen), PSN_BOTH (an overlap piece:
 * its co faces carry it together), or 0 (ambiguous). */
#define PSN_OFF (-1)
#define PSN_BOTH (-2)
static int carrier(const seg_rec *r) {
  if (r->co[0]) return PSN_BOTH;
  if (r->top[0] == 0 || r->mean[0] < PSN_OFF_MAX) return PSN_OFF;
  if (r->mean[0] >= PSN_CARRY && r->mean[0] - r->mean[1] >= PSN_CARRY_MARGIN) return r->top[0];
  return 0;
}

/* r's top faces (best first) from the tracks' summed scores sum (ct,) over `frames` frames. */
static void rank_top(seg_rec *r, const double *sum, int64_t frames, int ct) {
  for (int k = 0; sum && frames > 0 && k < ct; k++) {
    double mean = sum[k] / (double)frames;
    for (int j = 0; j < PSN_TOP; j++)
      if (mean > 0.0 && (r->top[j] == 0 || mean > r->mean[j])) {
        memmove(&r->top[j + 1], &r->top[j], (PSN_TOP - 1 - j) * sizeof *r->top);
        memmove(&r->mean[j + 1], &r->mean[j], (PSN_TOP - 1 - j) * sizeof *r->mean);
        r->top[j] = k + 1;
        r->mean[j] = (float)mean;
        break;
      }
  }
}

/* The faces that carry r at once (mean >= PSN_CARRY) into co (PSN_TOP,), in increasing track id
 * order and 0-terminated, when there are two or more (overlapped speech); returns how many
 * (co all 0 when fewer than two). */
static int co_speakers(const seg_rec *r, int *co) {
  int n = 0;
  memset(co, 0, PSN_TOP * sizeof *co);
  for (int j = 0; j < PSN_TOP; j++)
    if (r->top[j] > 0 && r->mean[j] >= PSN_CARRY) {
      int k = n++;
      for (; k > 0 && co[k - 1] > r->top[j]; k--) co[k] = co[k - 1];
      co[k] = r->top[j];
    }
  if (n < 2) memset(co, 0, PSN_TOP * sizeof *co);
  return n < 2 ? 0 : n;
}

/* Appends a piece [start, end) of a segment of speaker (0: none) with its tracks' summed
 * scores sum (cap_trk,) over `frames` frames; co: its overlapping faces (co_speakers), or NULL. */
static int add_piece(psn_state *s, int speaker, double start, double end, const double *sum,
                     int64_t frames, const int *co, emoi_err *err) {
  if (s->n_segs == s->cap_segs) {
    int cap = s->cap_segs ? 2 * s->cap_segs : 256;
    seg_rec *r = realloc(s->segs, (size_t)cap * sizeof *r);
    if (!r) return emoi_fail(err, EMO_ENOMEM, "out of memory for persons");
    s->segs = r;
    s->cap_segs = cap;
  }
  seg_rec *rec = &s->segs[s->n_segs++];
  memset(rec, 0, sizeof *rec);
  rec->start = start;
  rec->end = end;
  rec->seg = s->n_delivered;
  if (speaker <= 0 || !(end > start)) return EMO_OK;
  rec->speaker = speaker;
  rec->dur = end - start;
  rank_top(rec, sum, frames, s->cap_trk);
  if (co) memcpy(rec->co, co, sizeof rec->co);
  return EMO_OK;
}

int psn_segment(psn_state *s, emo_speech_segment *seg, emoi_err *err) {
  seg->linked = 1;
  seg->track_id = seg->person = 0;
  seg->link = 0.0f;
  seg->overlap_time = 0.0;
  seg->overlap_track_id = seg->overlap_person = 0;
  double dur = seg->end - seg->start;
  int rc0;
  if (seg->speaker <= 0 || !(dur > 0.0) || !(dur < 1e7)) {
    rc0 = add_piece(s, 0, seg->start, seg->end, NULL, 0, NULL, err);
    s->n_delivered++;
    return rc0;
  }
  int rc = grow(s, 1, seg->speaker, err);
  if (rc != EMO_OK) return rc;
  spk_stat *sp = &s->spk[seg->speaker - 1];
  sp->talk += dur;
  const emo_prosody *p = &seg->prosody;
  double vw = dur * p->voiced_ratio;
  sp->prosody[0] += vw * p->f0_mean;
  sp->f0_weight += vw;
  sp->prosody[1] += dur * p->f0_min;
  sp->prosody[2] += dur * p->f0_max;
  sp->prosody[3] += dur * p->energy_db;
  sp->prosody[4] += dur * p->voiced_ratio;
  sp->prosody[5] += dur * p->rate;
  if (s->vc && seg->custom && seg->head == s->vh)
    for (int k = 0; k < s->vc; k++)
      s->vsum[(size_t)(seg->speaker - 1) * s->vc + k] += dur * seg->custom[k];
  /* Frames in [start, end) and each track's summed score over them, per PSN_BIN bin. */
  int nb = (int)ceil(dur / PSN_BIN), ct = s->cap_trk;
  if (nb < 1) nb = 1;
  double *bs = calloc((size_t)nb * (size_t)ct + 3 * (size_t)ct, sizeof *bs);
  int64_t *bf = calloc((size_t)nb, sizeof *bf);
  if (!bs || !bf) {
    free(bs);
    free(bf);
    return emoi_fail(err, EMO_ENOMEM, "out of memory for persons");
  }
  double *sum = bs + (size_t)nb * ct, *piece = sum + ct, *ov = piece + ct; /* ov: per track,
                                                                 seconds of overlap bins */
  int64_t frames = 0;
  for (int i = s->head; i < s->n_hist; i++) {
    const hist_entry *e = &s->hist[i];
    if (e->t < seg->start || e->t >= seg->end) continue;
    int b = (int)((e->t - seg->start) / PSN_BIN);
    b = b < 0 ? 0 : b >= nb ? nb - 1 : b;
    if (e->track == 0) {
      frames++;
      bf[b]++;
    } else if (e->score > 0.0f && e->track <= ct) {
      sum[e->track - 1] += e->score;
      bs[(size_t)b * ct + e->track - 1] += e->score;
    }
  }
  int best = 0;
  double best_mean = 0.0;
  for (int k = 0; frames > 0 && k < ct; k++) {
    double mean = sum[k] / (double)frames;
    s->aff[(size_t)(seg->speaker - 1) * ct + k] += dur * mean;
    if (mean > best_mean) {
      best_mean = mean;
      best = k + 1;
    }
  }
  if (best && best_mean >= PSN_SEG_LINK) {
    seg->track_id = best;
    seg->person = best;
    seg->link = (float)best_mean;
  }
  /* Pieces: the segment is cut where the faces that carry its bins change: one face, nobody on
   * screen, or two or more at once in a bin of at least PSN_OVERLAP_MIN s (overlapped speech);
   * ambiguous bins stay with the piece they are in. */
  double p_start = seg->start;
  int64_t p_frames = 0;
  int cur = 0, cur_co[PSN_TOP] = {0};
  for (int b = 0; b < nb && rc == EMO_OK; b++) {
    seg_rec tmp;
    memset(&tmp, 0, sizeof tmp);
    rank_top(&tmp, bs + (size_t)b * ct, bf[b], ct);
    double len = fmin(PSN_BIN, seg->end - (seg->start + b * PSN_BIN));
    int co[PSN_TOP] = {0}, c = 0;
    if (bf[b] > 0 && len >= PSN_OVERLAP_MIN && co_speakers(&tmp, co) >= 2) {
      memcpy(tmp.co, co, sizeof co);
      for (int j = 0; j < PSN_TOP && co[j]; j++) ov[co[j] - 1] += len;
      seg->overlap_time += len;
    }
    if (bf[b] > 0) c = carrier(&tmp);
    if (c != 0 && cur != 0 && (c != cur || memcmp(co, cur_co, sizeof co) != 0)) {
      double cut = seg->start + b * PSN_BIN;
      rc = add_piece(s, seg->speaker, p_start, cut, piece, p_frames,
                     cur == PSN_BOTH ? cur_co : NULL, err);
      memset(piece, 0, (size_t)ct * sizeof *piece);
      p_frames = 0;
      p_start = cut;
    }
    if (c != 0) {
      cur = c;
      memcpy(cur_co, co, sizeof co);
    }
    for (int k = 0; k < ct; k++) piece[k] += bs[(size_t)b * ct + k];
    p_frames += bf[b];
  }
  if (rc == EMO_OK)
    rc = add_piece(s, seg->speaker, p_start, seg->end, piece, p_frames,
                   cur == PSN_BOTH ? cur_co : NULL, err);
  /* the segment's overlap: the face other than its own that spoke most in its overlap bins */
  double ov_best = 0.0;
  for (int k = 0; k < ct; k++)
    if (k + 1 != seg->track_id && ov[k] > ov_best) {
      ov_best = ov[k];
      seg->overlap_track_id = seg->overlap_person = k + 1;
    }
  free(bs);
  free(bf);
  psn_trim(s, seg->end);
  s->n_delivered++;
  return rc;
}

typedef struct unit {
  int speaker, face; /* face: the carrier's track id, PSN_OFF, or 0 = the whole speaker */
  int row;           /* the join's row, -1 = not in the join */
  double talk;
} unit;

/* Adds dur seconds to carrier c in (cid, tc, ts) (nc of them, at most n_c), to ts too when the
 * carrier spoke alone. */
static void add_carry(int *cid, double *tc, double *ts, int *nc, int n_c, int c, double dur,
                      int alone) {
  int j = 0;
  while (j < *nc && cid[j] != c) j++;
  if (j == *nc) {
    if (*nc == n_c) return;
    cid[j] = c;
    tc[j] = ts[j] = 0.0;
    (*nc)++;
  }
  tc[j] += dur;
  if (alone) ts[j] += dur;
}

/* The units (see the top) into u (capacity: the speakers plus the segments), each segment's
 * unit into seg_unit; tc, ts, cid: scratch (n_c,). Returns how many. */
static int make_units(const psn_state *s, int n_spk, unit *u, int *seg_unit, double *tc, double *ts,
                      int *cid, int n_c) {
  int n_u = 0;
  for (int sp = 1; sp <= n_spk; sp++) {
    if (!(s->spk[sp - 1].talk > 0.0)) continue;
    /* talk time per carrier (cid: carriers seen, tc: their seconds, overlap pieces counting for
     * each of their faces: two faces heard at once are two voices; ts: alone) */
    int nc = 0;
    for (int i = 0; i < s->n_segs; i++) {
      const seg_rec *r = &s->segs[i];
      if (r->speaker != sp) continue;
      int c = carrier(r);
      for (int j = 0; c == PSN_BOTH && j < PSN_TOP && r->co[j]; j++)
        add_carry(cid, tc, ts, &nc, n_c, r->co[j], r->dur, 0);
      if (c != 0 && c != PSN_BOTH) add_carry(cid, tc, ts, &nc, n_c, c, r->dur, 1);
    }
    int first = n_u, big = -1;
    for (int j = 0; j < nc; j++)
      if (tc[j] >= PSN_SPLIT_MIN && tc[j] >= PSN_SPLIT_SHARE * s->spk[sp - 1].talk) {
        u[n_u] = (unit){sp, cid[j], -1, 0.0};
        if (big < 0 || tc[j] > u[big].talk) big = n_u;
        u[n_u++].talk = tc[j];
      }
    if (n_u - first < 2) { /* one unit for the whole speaker, carried by its majority face */
      n_u = first;
      int face = 0;
      for (int j = 0; j < nc; j++)
        if (cid[j] > 0 && ts[j] >= 0.5 * s->spk[sp - 1].talk) face = cid[j];
      u[n_u] = (unit){sp, 0, -1, 0.0};
      u[n_u].row = face; /* remembered here until the rows are made */
      big = n_u++;
    } else {
      for (int k = first; k < n_u; k++) u[k].row = u[k].face > 0 ? u[k].face : 0;
    }
    for (int k = first; k < n_u; k++) u[k].talk = 0.0;
    for (int i = 0; i < s->n_segs; i++) {
      const seg_rec *r = &s->segs[i];
      if (r->speaker != sp) continue;
      int c = carrier(r), to = -1; /* an overlap piece: the unit of its best face */
      for (int k = first; k < n_u && n_u - first > 1; k++)
        if (u[k].face == c && c != 0 && c != PSN_BOTH) to = k;
      for (int k = first; to < 0 && k < n_u && n_u - first > 1; k++)
        if (u[k].face > 0 && u[k].face == r->top[0]) to = k;
      if (to < 0) to = big;
      seg_unit[i] = to;
      u[to].talk += r->dur;
    }
  }
  return n_u;
}

static int turn_cmp(const void *a, const void *b) {
  const emo_person_turn *x = a, *y = b;
  if (x->start != y->start) return x->start < y->start ? -1 : 1;
  return (x->person > y->person) - (x->person < y->person);
}

/* The final turns into s->turns (capacity (n_segs + 1) x (PSN_TOP + 1)): each piece's person
 * (its unit's face, or its speaker's off-screen voice), and for an overlap piece every face that
 * carried it too, each a turn marked overlap; consecutive pieces of a segment with the same
 * person and overlap as one turn; in time order. Returns how many. */
static int make_turns(psn_state *s, const emo_video_summary *vs, const unit *u, const int *seg_unit,
                      const int *row_to_col, const int *cols, const int *off_id) {
  int nt = 0, first = 0, cur_seg = -1;
  for (int i = 0; i < s->n_segs; i++) {
    const seg_rec *g = &s->segs[i];
    if (!g->speaker) continue;
    if (g->seg != cur_seg) { /* the turns of this segment start here */
      first = nt;
      cur_seg = g->seg;
    }
    const unit *x = &u[seg_unit[i]];
    int r = x->row, who[PSN_TOP + 1], n_who = 0;
    who[n_who++] = r >= 0 && row_to_col[r] >= 0 ? cols[row_to_col[r]] : off_id[x->speaker];
    for (int j = 0; j < PSN_TOP && g->co[j]; j++) {
      int seen = 0; /* a face of the recording (its person id is its track id) */
      for (int k = 0; vs && k < vs->track_count; k++)
        seen |= vs->tracks[k].track_id == g->co[j] && vs->tracks[k].frames > 0;
      if (seen && g->co[j] != who[0]) who[n_who++] = g->co[j];
    }
    int over = n_who > 1;
    int face0 = 0; /* who[0] is a face (a face person's id is its track id) */
    for (int k = 0; vs && k < vs->track_count; k++)
      face0 |= vs->tracks[k].track_id == who[0] && vs->tracks[k].frames > 0;
    for (int w = 0; w < n_who; w++) {
      emo_person_turn *t = NULL;
      for (int k = nt - 1; k >= first && !t; k--)
        if (s->turns[k].person == who[w] && s->turns[k].end == g->start &&
            s->turns[k].overlap == over)
          t = &s->turns[k];
      if (t) {
        t->end = g->end;
        continue;
      }
      t = &s->turns[nt++];
      t->start = g->start;
      t->end = g->end;
      t->person = who[w];
      t->speaker = g->speaker;
      t->segment = g->seg;
      t->overlap = over;
      t->track_id = w > 0 || face0 ? who[w] : 0; /* who[w > 0]: faces of the recording */
    }
  }
  qsort(s->turns, (size_t)nt, sizeof *s->turns, turn_cmp);
  return nt;
}

int psn_finish(psn_state *s, const emo_video_summary *vs, const emo_audio_result *audio,
               const emo_person **out, int *n_out, const emo_person_turn **turns, int *n_turns,
               emoi_err *err) {
  *out = NULL;
  *n_out = 0;
  *turns = NULL;
  *n_turns = 0;
  int n_trk = vs ? vs->track_count : 0, n_spk = 0, max_id = 0;
  for (int k = 0; k < n_trk; k++)
    if (vs->tracks[k].track_id > max_id) max_id = vs->tracks[k].track_id;
  if (audio)
    for (int i = 0; i < audio->speaker_count; i++)
      if (audio->speakers[i].speaker > n_spk) n_spk = audio->speakers[i].speaker;
  for (int i = 0; i < s->n_segs; i++)
    if (s->segs[i].speaker > n_spk) n_spk = s->segs[i].speaker;
  int rc = grow(s, max_id > 0 ? max_id : 1, n_spk > 0 ? n_spk : 1, err);
  if (rc != EMO_OK) return rc;
  int n_cap = n_spk + PSN_TOP * s->n_segs + 1; /* units: at most a carrier per face of a piece */
  unit *u = calloc((size_t)n_cap, sizeof *u);
  int *seg_unit = calloc((size_t)s->n_segs + 1, sizeof *seg_unit);
  double *tc = calloc(2 * (size_t)n_cap, sizeof *tc), *ts = tc ? tc + n_cap : NULL;
  int *cid = calloc((size_t)n_cap, sizeof *cid);
  double *ra = calloc((size_t)ASG_MAX * (size_t)(max_id + 1), sizeof *ra); /* rows x track ids */
  float *cst = malloc(ASG_MAX * ASG_MAX * sizeof *cst);
  int *row_face = calloc((size_t)n_cap, sizeof *row_face);
  free(s->turns);
  s->turns = calloc(((size_t)s->n_segs + 1) * (PSN_TOP + 1), sizeof *s->turns);
  if (!u || !seg_unit || !tc || !cid || !ra || !cst || !row_face || !s->turns) {
    rc = emoi_fail(err, EMO_ENOMEM, "out of memory for persons");
    goto done;
  }
  int n_u = make_units(s, n_spk, u, seg_unit, tc, ts, cid, n_cap);
  /* Rows: units carried by one face merge (u.row holds that face until here); at most ASG_MAX
   * rows, those with the most talk time. */
  double row_talk[ASG_MAX];
  int nr = 0;
  for (int k = 0; k < n_u; k++) {
    int face = u[k].row, r = -1;
    for (int j = 0; face > 0 && j < nr; j++)
      if (row_face[j] == face) r = j;
    if (r < 0 && nr < ASG_MAX) {
      r = nr++;
      row_face[r] = face;
      row_talk[r] = 0.0;
    } else if (r < 0) { /* full: replace the row with the least talk when this one has more */
      int w = 0;
      for (int j = 1; j < ASG_MAX; j++)
        if (row_talk[j] < row_talk[w]) w = j;
      if (!(u[k].talk > row_talk[w])) {
        u[k].row = -1;
        continue;
      }
      for (int j = 0; j < k; j++)
        if (u[j].row == w) u[j].row = -1;
      r = w;
      row_face[r] = face;
      row_talk[r] = 0.0;
    }
    u[k].row = r;
    row_talk[r] += u[k].talk;
  }
  /* Affinities of rows and faces from the segment records. */
  for (int i = 0; i < s->n_segs; i++) {
    const seg_rec *g = &s->segs[i];
    if (!g->speaker) continue;
    int r = u[seg_unit[i]].row;
    for (int j = 0; r >= 0 && j < PSN_TOP; j++)
      if (g->top[j] > 0 && g->top[j] <= max_id)
        ra[(size_t)r * (max_id + 1) + g->top[j]] += g->dur * g->mean[j];
  }
  for (int r = 0; r < nr; r++)
    for (int id = 0; id <= max_id; id++)
      if (row_talk[r] > 0.0) ra[(size_t)r * (max_id + 1) + id] /= row_talk[r];
  /* Columns: faces with an affinity that may join, at most ASG_MAX (the strongest). */
  int cols[ASG_MAX], nc = 0;
  float colv[ASG_MAX];
  for (int k = 0; k < n_trk; k++) {
    int id = vs->tracks[k].track_id;
    double best = 0.0;
    for (int r = 0; r < nr; r++)
      if (ra[(size_t)r * (max_id + 1) + id] > best) best = ra[(size_t)r * (max_id + 1) + id];
    if (!(best >= PSN_JOIN_MIN)) continue;
    int c = nc < ASG_MAX ? nc++ : -1;
    if (c < 0) {
      c = 0;
      for (int j = 1; j < ASG_MAX; j++)
        if (colv[j] < colv[c]) c = j;
      if (!(best > colv[c])) continue;
    }
    cols[c] = id;
    colv[c] = (float)best;
  }
  int row_to_col[ASG_MAX];
  for (int r = 0; r < nr; r++) {
    row_to_col[r] = -1;
    for (int c = 0; c < nc; c++)
      cst[r * nc + c] = (float)(1.0 - ra[(size_t)r * (max_id + 1) + cols[c]]);
  }
  int joined = nr > 0 && nc > 0 ? asg_solve(cst, nr, nc, 1.0f - PSN_JOIN_MIN, row_to_col) : 0;
  if (joined < 0) {
    rc = emoi_fail(err, EMO_EINTERNAL, "persons: assignment failed");
    goto done;
  }
  /* Persons: one per track seen, then one per speaker with speech joined to no face. */
  int n_face = 0, n_off = 0;
  for (int k = 0; k < n_trk; k++) n_face += vs->tracks[k].frames > 0;
  int *off_id = calloc((size_t)n_spk + 1, sizeof *off_id); /* speaker -> off-screen person */
  if (!off_id) {
    rc = emoi_fail(err, EMO_ENOMEM, "out of memory for persons");
    goto done;
  }
  for (int k = 0; k < n_u; k++) {
    int r = u[k].row;
    if ((r < 0 || row_to_col[r] < 0) && !off_id[u[k].speaker] && u[k].talk > 0.0)
      off_id[u[k].speaker] = max_id + ++n_off;
  }
  int nt = make_turns(s, vs, u, seg_unit, row_to_col, cols, off_id);
  int n = n_face + n_off;
  free(s->persons);
  free(s->ids);
  free(s->out);
  free(s->spk_ids);
  const size_t per = 2 * (size_t)s->fc + (size_t)s->vc;
  s->persons = calloc((size_t)(n > 0 ? n : 1), sizeof *s->persons);
  s->ids = calloc((size_t)(n > 0 ? n : 1), sizeof *s->ids);
  s->out = calloc((size_t)(n > 0 ? n : 1) * (per ? per : 1), sizeof *s->out);
  s->spk_ids = calloc((size_t)(n_face * (n_spk + 1) + n_off + 1), sizeof *s->spk_ids);
  if (!s->persons || !s->ids || !s->out || !s->spk_ids) {
    free(off_id);
    rc = emoi_fail(err, EMO_ENOMEM, "out of memory for persons");
    goto done;
  }
  double interval = vs && vs->frames_analysed > 0 ? vs->duration / (double)vs->frames_analysed : 0;
  int np = 0, n_ids = 0;
  double *by_spk = tc; /* talk per speaker of one person (n_cap >= n_spk + 1) */
  for (int pass = 0; pass < 2; pass++) {
    for (int i = 0; i < (pass ? n_spk : n_trk); i++) {
      emo_person *p = &s->persons[np];
      for (int sp = 0; sp <= n_spk; sp++) by_spk[sp] = 0.0;
      if (pass == 0) {
        if (vs->tracks[i].frames <= 0) continue; /* p may be one past the end: untouched */
        p->dominant_speaking = p->dominant_listening = -1;
        int id = vs->tracks[i].track_id;
        const trk_stat *ts = id - 1 < s->cap_trk ? &s->trk[id - 1] : NULL;
        p->person = id;
        s->ids[np] = id;
        p->track_ids = &s->ids[np];
        p->track_count = 1;
        p->on_screen = 1;
        p->on_screen_time = (double)vs->tracks[i].frames * interval;
        for (int r = 0; r < nr; r++)
          if (row_to_col[r] >= 0 && cols[row_to_col[r]] == id)
            p->link_confidence = 1.0f - cst[r * nc + row_to_col[r]];
        if (ts && ts->n_spk > 0) {
          for (int k = 0; k < EMO_EXPR_COUNT; k++)
            p->expression_speaking[k] = (float)(ts->sum_spk[k] / (double)ts->n_spk);
          p->dominant_speaking = emoi_argmax(p->expression_speaking, EMO_EXPR_COUNT);
        }
        if (ts && ts->n_lis > 0) {
          for (int k = 0; k < EMO_EXPR_COUNT; k++)
            p->expression_listening[k] = (float)(ts->sum_lis[k] / (double)ts->n_lis);
          p->dominant_listening = emoi_argmax(p->expression_listening, EMO_EXPR_COUNT);
        }
        for (int w = 0; ts && s->fc && w < 2; w++) { /* the face head: speaking, listening */
          int64_t cnt = w ? ts->n_lis : ts->n_spk;
          if (cnt <= 0) continue;
          float *o = s->out + (size_t)np * per + (size_t)w * s->fc;
          const double *fs = s->fsum + ((size_t)i * 2 + (size_t)w) * (size_t)s->fc;
          for (int k = 0; k < s->fc; k++) o[k] = (float)(fs[k] / (double)cnt);
          p->face_head = s->fh;
          if (w)
            p->custom_listening = o;
          else
            p->custom_speaking = o;
        }
      } else {
        if (!off_id[i + 1]) continue;
        p->dominant_speaking = p->dominant_listening = -1;
        p->person = off_id[i + 1];
      }
      for (int k = 0; k < nt; k++) { /* its talk: its turns, overlapped or not */
        const emo_person_turn *t = &s->turns[k];
        if (t->person != p->person) continue;
        by_spk[t->speaker] += t->end - t->start;
        if (t->overlap) p->overlap_time += t->end - t->start;
      }
      /* speakers, the main one (most talk) first */
      int speaker = 0;
      p->speakers = &s->spk_ids[n_ids];
      for (int sp = 1; sp <= n_spk; sp++) {
        if (!(by_spk[sp] > 0.0)) continue;
        p->talk_time += by_spk[sp];
        if (!speaker || by_spk[sp] > by_spk[speaker]) speaker = sp;
      }
      if (speaker) s->spk_ids[n_ids + p->speaker_count++] = speaker;
      for (int sp = 1; sp <= n_spk; sp++)
        if (by_spk[sp] > 0.0 && sp != speaker) s->spk_ids[n_ids + p->speaker_count++] = sp;
      n_ids += p->speaker_count;
      p->speaker = speaker;
      p->dominant = -1;
      if (speaker > 0) {
        const spk_stat *sp = &s->spk[speaker - 1];
        for (int a = 0; audio && a < audio->speaker_count; a++)
          if (audio->speakers[a].speaker == speaker) {
            memcpy(p->emotion, audio->speakers[a].emotion, sizeof p->emotion);
            p->dominant = audio->speakers[a].dominant;
            p->labels = audio->speakers[a].labels;
          }
        if (sp->talk > 0.0) {
          p->prosody.f0_mean = sp->f0_weight > 0 ? (float)(sp->prosody[0] / sp->f0_weight) : 0;
          p->prosody.f0_min = (float)(sp->prosody[1] / sp->talk);
          p->prosody.f0_max = (float)(sp->prosody[2] / sp->talk);
          p->prosody.energy_db = (float)(sp->prosody[3] / sp->talk);
          p->prosody.voiced_ratio = (float)(sp->prosody[4] / sp->talk);
          p->prosody.rate = (float)(sp->prosody[5] / sp->talk);
          if (s->vc) { /* the voice head, weighted by segment duration */
            float *o = s->out + (size_t)np * per + 2 * (size_t)s->fc;
            for (int k = 0; k < s->vc; k++)
              o[k] = (float)(s->vsum[(size_t)(speaker - 1) * s->vc + k] / sp->talk);
            p->voice_head = s->vh;
            p->custom_voice = o;
          }
        }
      }
      np++;
    }
  }
  free(off_id);
  *out = s->persons;
  *n_out = np;
  *turns = s->turns;
  *n_turns = nt;
done:
  free(u);
  free(seg_unit);
  free(tc);
  free(cid);
  free(ra);
  free(cst);
  free(row_face);
  return rc;
}
