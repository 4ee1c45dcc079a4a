/* persons.c: the fusion of faces and voices into persons (see persons.h for the rules).
 *
 * The join: A[s][k] = (1 / T_s) * sum over speaker s's segments of the segment's duration
 * times the mean speaking score of track k over the frames the segment covers (0 where k is
 * not visible): the mean speaking score of face k while s talks. Cost 1 - A, a pair allowed
 * only when A >= PSN_JOIN_MIN; asg_solve (Hungarian) finds the optimal one-to-one join. With
 * more than ASG_MAX speakers or tracks, the ASG_MAX with the most talk time / the strongest
 * affinity take part (the rest stay unjoined). */
#include "pipeline/persons.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "pipeline/assignment.h"

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
  double *aff; /* (cap_spk, cap_trk) summed duration x mean score */
  emo_person *persons;
  int *ids; /* track ids of the persons */
  /* heads' answers (psn_set_heads): per track the sums over speaking / listening frames of
   * the face head's probabilities, per speaker the duration-weighted sum of the voice head's;
   * kept beside trk / spk, with the same capacities */
  const emo_head *fh, *vh;
  int fc, vc;   /* their classes, 0 without */
  double *fsum; /* (cap_trk, 2, fc): speaking then listening */
  double *vsum; /* (cap_spk, vc) */
  float *out;   /* the persons' means: (persons, 2 fc + vc) */
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
  free(s);
  *ps = NULL;
}

void psn_begin(psn_state *s) {
  s->head = s->n_hist = 0;
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
  trk_stat *t = calloc((size_t)ct, sizeof *t);
  spk_stat *p = calloc((size_t)cs, sizeof *p);
  double *a = calloc((size_t)ct * (size_t)cs, sizeof *a);
  double *fs = s->fc ? calloc((size_t)ct * 2 * s->fc, sizeof *fs) : NULL;
  double *vs = s->vc ? calloc((size_t)cs * s->vc, sizeof *vs) : NULL;
  if (!t || !p || !a || (s->fc && !fs) || (s->vc && !vs)) {
    free(t);
    free(p);
    free(a);
    free(fs);
    free(vs);
    return emoi_fail(err, EMO_ENOMEM, "out of memory for persons");
  }
  if (s->fsum) memcpy(fs, s->fsum, (size_t)s->cap_trk * 2 * s->fc * sizeof *fs);
  if (s->vsum) memcpy(vs, s->vsum, (size_t)s->cap_spk * s->vc * sizeof *vs);
  free(s->fsum);
  free(s->vsum);
  s->fsum = fs;
  s->vsum = vs;
  if (s->trk) memcpy(t, s->trk, (size_t)s->cap_trk * sizeof *t);
  if (s->spk) memcpy(p, s->spk, (size_t)s->cap_spk * sizeof *p);
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

int psn_segment(psn_state *s, emo_speech_segment *seg, emoi_err *err) {
  seg->linked = 1;
  seg->track_id = seg->person = 0;
  seg->link = 0.0f;
  double dur = seg->end - seg->start;
  if (seg->speaker <= 0 || !(dur > 0.0)) return EMO_OK;
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
  /* Frames in [start, end) and each track's summed score over them. */
  double *sum = calloc((size_t)s->cap_trk, sizeof *sum);
  if (!sum) return emoi_fail(err, EMO_ENOMEM, "out of memory for persons");
  int64_t frames = 0;
  for (int i = s->head; i < s->n_hist; i++) {
    const hist_entry *e = &s->hist[i];
    if (e->t < seg->start || e->t >= seg->end) continue;
    if (e->track == 0)
      frames++;
    else if (e->score > 0.0f && e->track <= s->cap_trk)
      sum[e->track - 1] += e->score;
  }
  int best = 0;
  double best_mean = 0.0;
  for (int k = 0; frames > 0 && k < s->cap_trk; k++) {
    double mean = sum[k] / (double)frames;
    s->aff[(size_t)(seg->speaker - 1) * s->cap_trk + k] += dur * mean;
    if (mean > best_mean) {
      best_mean = mean;
      best = k + 1;
    }
  }
  free(sum);
  if (best && best_mean >= PSN_SEG_LINK) {
    seg->track_id = best;
    seg->person = best;
    seg->link = (float)best_mean;
  }
  psn_trim(s, seg->end);
  return EMO_OK;
}

static int argmax(const float *p, int n) {
  int b = 0;
  for (int k = 1; k < n; k++)
    if (p[k] > p[b]) b = k;
  return b;
}

int psn_finish(psn_state *s, const emo_video_summary *vs, const emo_audio_result *audio,
               const emo_person **out, int *n_out, emoi_err *err) {
  *out = NULL;
  *n_out = 0;
  int n_trk = vs ? vs->track_count : 0, n_spk = 0;
  if (audio)
    for (int i = 0; i < audio->speaker_count; i++)
      if (audio->speakers[i].speaker > n_spk) n_spk = audio->speakers[i].speaker;
  int rc = grow(s, n_trk > 0 ? n_trk : 1, n_spk > 0 ? n_spk : 1, err);
  if (rc != EMO_OK) return rc;
  /* Rows: speakers with talk time; columns: tracks seen. At most ASG_MAX of each. */
  int rows[ASG_MAX], cols[ASG_MAX], nr = 0, nc = 0;
  for (int i = 0; i < n_spk; i++) {
    if (!(s->spk[i].talk > 0.0)) continue;
    if (nr < ASG_MAX) {
      rows[nr++] = i;
      continue;
    }
    int w = 0; /* replace the row with the least talk time */
    for (int r = 1; r < ASG_MAX; r++)
      if (s->spk[rows[r]].talk < s->spk[rows[w]].talk) w = r;
    if (s->spk[i].talk > s->spk[rows[w]].talk) rows[w] = i;
  }
  for (int k = 0; k < n_trk; k++) {
    double best = 0.0;
    for (int r = 0; r < nr; r++) {
      double a = s->aff[(size_t)rows[r] * s->cap_trk + k] / s->spk[rows[r]].talk;
      if (a > best) best = a;
    }
    if (!(best >= PSN_JOIN_MIN)) continue;
    if (nc < ASG_MAX) {
      cols[nc++] = k;
      continue;
    }
    int w = 0;
    double wv = INFINITY;
    for (int c = 0; c < ASG_MAX; c++) {
      double v = 0.0;
      for (int r = 0; r < nr; r++) {
        double a = s->aff[(size_t)rows[r] * s->cap_trk + cols[c]] / s->spk[rows[r]].talk;
        if (a > v) v = a;
      }
      if (v < wv) {
        wv = v;
        w = c;
      }
    }
    if (best > wv) cols[w] = k;
  }
  int spk_of_trk[ASG_MAX], row_to_col[ASG_MAX];
  float link_of_trk[ASG_MAX];
  float *cst = malloc(ASG_MAX * ASG_MAX * sizeof *cst);
  if (!cst) return emoi_fail(err, EMO_ENOMEM, "out of memory for persons");
  for (int r = 0; r < nr; r++)
    for (int c = 0; c < nc; c++)
      cst[r * nc + c] =
          (float)(1.0 - s->aff[(size_t)rows[r] * s->cap_trk + cols[c]] / s->spk[rows[r]].talk);
  int joined = nr > 0 && nc > 0 ? asg_solve(cst, nr, nc, 1.0f - PSN_JOIN_MIN, row_to_col) : 0;
  if (joined < 0) {
    free(cst);
    return emoi_fail(err, EMO_EINTERNAL, "persons: assignment failed");
  }
  int spk_joined[ASG_MAX];
  for (int c = 0; c < nc; c++) spk_of_trk[c] = 0, link_of_trk[c] = 0.0f;
  for (int r = 0; r < nr; r++) {
    spk_joined[r] = joined > 0 && row_to_col[r] >= 0;
    if (spk_joined[r]) {
      spk_of_trk[row_to_col[r]] = rows[r] + 1;
      link_of_trk[row_to_col[r]] = 1.0f - cst[r * nc + row_to_col[r]];
    }
  }
  free(cst);
  /* Persons: one per track id seen, then one per speaker never joined. */
  int n_off = 0;
  for (int i = 0; i < n_spk; i++) {
    int j = 0;
    for (int r = 0; r < nr; r++) j |= rows[r] == i && spk_joined[r];
    n_off += s->spk[i].talk > 0.0 && !j;
  }
  int n_face = 0;
  for (int k = 0; k < n_trk; k++) n_face += vs->tracks[k].frames > 0;
  int n = n_face + n_off;
  free(s->persons);
  free(s->ids);
  free(s->out);
  const size_t per = 2 * (size_t)s->fc + (size_t)s->vc;
  s->persons = calloc((size_t)(n > 0 ? n : 1), sizeof *s->persons);
  s->ids = calloc((size_t)(n > 0 ? n : 1), sizeof *s->ids);
  s->out = calloc((size_t)(n > 0 ? n : 1) * (per ? per : 1), sizeof *s->out);
  if (!s->persons || !s->ids || !s->out)
    return emoi_fail(err, EMO_ENOMEM, "out of memory for persons");
  double interval = vs && vs->frames_analysed > 0 ? vs->duration / (double)vs->frames_analysed : 0;
  int np = 0;
  for (int pass = 0; pass < 2; pass++) {
    for (int i = 0; i < (pass ? n_spk : n_trk); i++) {
      emo_person *p = &s->persons[np];
      int speaker = 0;
      if (pass == 0) {
        if (vs->tracks[i].frames <= 0) continue;
        const trk_stat *ts = i < s->cap_trk ? &s->trk[i] : NULL;
        p->person = vs->tracks[i].track_id;
        s->ids[np] = vs->tracks[i].track_id;
        p->track_ids = &s->ids[np];
        p->track_count = 1;
        p->on_screen = 1;
        p->on_screen_time = (double)vs->tracks[i].frames * interval;
        for (int c = 0; c < nc; c++)
          if (cols[c] == i && spk_of_trk[c]) {
            speaker = spk_of_trk[c];
            p->link_confidence = link_of_trk[c];
          }
        p->dominant_speaking = p->dominant_listening = -1;
        if (ts && ts->n_spk > 0) {
          for (int k = 0; k < EMO_EXPR_COUNT; k++)
            p->expression_speaking[k] = (float)(ts->sum_spk[k] / (double)ts->n_spk);
          p->dominant_speaking = argmax(p->expression_speaking, EMO_EXPR_COUNT);
        }
        if (ts && ts->n_lis > 0) {
          for (int k = 0; k < EMO_EXPR_COUNT; k++)
            p->expression_listening[k] = (float)(ts->sum_lis[k] / (double)ts->n_lis);
          p->dominant_listening = argmax(p->expression_listening, EMO_EXPR_COUNT);
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
        int j = 0;
        for (int r = 0; r < nr; r++) j |= rows[r] == i && spk_joined[r];
        if (!(s->spk[i].talk > 0.0) || j) continue;
        p->person = n_trk + (np - n_face) + 1;
        p->dominant_speaking = p->dominant_listening = -1;
        speaker = i + 1;
      }
      p->speaker = speaker;
      p->dominant = -1;
      if (speaker > 0) {
        const spk_stat *sp = &s->spk[speaker - 1];
        p->talk_time = sp->talk;
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
  *out = s->persons;
  *n_out = np;
  return EMO_OK;
}
