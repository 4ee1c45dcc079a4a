/* analyze_media.c: emo_analyze_media: a video's frames and its soundtrack on one timeline.
 * The frames are analysed on the calling thread (emoi_analyze_video, which decodes on a
 * thread of its own); the soundtrack on a second thread with a speech-only context
 * (emoi_analyze_audio, the two-pass reading of emo_analyze_audio), made once per context and
 * kept. The soundtrack is a few percent of a video's cost and fills the cores' idle time.
 *
 * Order: everything reaches the application on the calling thread. A described segment waits
 * in a queue until the first frame with t >= its end, and is delivered just before it; before
 * delivering a frame at t the caller waits until the soundtrack has described every segment
 * that ends at or before t (it has described one ending after t, or it is done). Segments
 * are disjoint and sorted, so their ends are sorted too and the output does not depend on the
 * threads' timing. Nothing waits beyond the current frame: the frames are never held, and the
 * queue holds only segments not yet due (a few bytes each).
 *
 * Persons (rp->persons, with the soundtrack asked for): just before a frame is delivered its
 * faces get their speaking score (pipeline/persons.c: the speaking evidence of the frame,
 * gated by the voice activity at its time, known then because the segment covering it has
 * been described) and person; just before a segment is delivered, the face seen speaking over
 * the frames it covers; after the end-of-stream frame call, the persons (on_person). The
 * history kept for the segments reaches back only to the start of the first segment not yet
 * delivered. A speaking source whose scores are final only later (LR-ASD's window:
 * spk_source_ops.hold seconds) makes the frames wait that long: each is copied (faces, their
 * details, events) into a queue and delivered, with its final scores, once the frames have moved
 * hold seconds past it, or at the end of the stream. So the output keeps its order and every
 * frame's "speaking" is its own; a killed run loses the last hold seconds of frames.
 *
 * A source read once (standard input, a pipe, a network url, a device: anything but a regular
 * file) cannot be opened by a second decoder, so the frames' demuxer hands the packets of its best
 * audio stream over (media_io.audio_tap, on the demuxing thread): they are decoded there
 * (aud_open_packets, the same decoder and resampler the file's own reader uses) and the samples
 * queued for the soundtrack's thread, which runs Silero as they come and, at the end, the file's
 * single-pass analysis (emoi_analyze_audio_pulled: the same segments, speakers and descriptions,
 * bit for bit). The diarizer clusters the whole recording, so the segments are known only at
 * the end; the frames do not wait for them. With persons, each frame is held (a copy, as for
 * LR-ASD) only until its voice activity is final: Silero's segmentation of the windows so far,
 * rounded as the diarizer rounds (its segments cover exactly the speech frames, whatever the
 * speakers), decides a time t for good once the sound has reached t + 2 pad + min_speech +
 * min_silence (+ 0.18 s; 1.53 s with the defaults), redone every second of sound (voiced_at).
 * So the frames go out about 1.5 to 2.5 s behind the sound, with the "speaking" the file
 * gives; the segments, their links and the persons follow the last frame, as psn_finish
 * does for a file. Memory is bounded by that delay in frames, plus, for the whole recording,
 * its samples (as emo_analyze_audio holds a url's: 230 MB an hour, up to max_audio_seconds),
 * the diarizer's features, the persons' history (16 bytes per face per frame: it is trimmed only
 * as segments are delivered) and a float per 32 ms of Silero's probabilities. Past
 * max_audio_seconds the soundtrack stops and the later frames, once it has been described, have
 * "speaking" null. A live source that never ends therefore gets scored frames but no segment
 * before it stops (an online diarizer would be needed). LR-ASD reads the sound through a second
 * decoder of its own, so a source read once uses the mouth motion (with a warning).
 *
 * A stream pushed by the caller (emo_stream_begin_media) is a source read once whose frames come
 * from emo_stream_push and whose samples from emo_stream_push_audio (aud_open_pcm / aud_feed_pcm:
 * the same resampler) into the same queue; its media_run lives in ctx->stream_media between the
 * calls, and emo_stream_end_media finishes it as emo_analyze_media does (media_finish).
 *
 * Logging: the soundtrack context's messages are queued and delivered on the calling thread
 * too (emo_log_fn promises the thread that made the call). Leaves to others: the frames'
 * analysis (analyze_video.c), the soundtrack's (analyze_audio.c), serialisation (output/). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "audio/vad.h"
#include "core/log.h"
#include "media/audio_decode.h"
#include "pipeline/internal.h"
#include "pipeline/persons.h"
#include "pipeline/speaking.h"

#define LOG_QUEUE_MAX 64 /* soundtrack messages held for the calling thread; more are dropped */

/* A frame held for its late speaking scores (see the top): its own copies of what it points to. */
typedef struct held_frame {
  emo_frame_result f;
  emo_track_face *faces; /* (cap_faces,) */
  emo_face_details *details;
  emo_event *events; /* (cap_events,) */
  float *custom;     /* (cap_custom,) the faces' face-head answers (the context reuses its own) */
  float *ev; /* (cap_faces,) the faces' speaking evidence when it came (a source read once) */
  int has_ev, av;
  int cap_faces, cap_events, cap_custom;
} held_frame;

typedef struct queued_log {
  emo_log_level level;
  char *text;
} queued_log;

/* State shared by the calling thread and the soundtrack's thread (under mu). */
typedef struct media_run {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  emo_context *c;  /* the caller's context (frames) */
  emo_context *st; /* the soundtrack's context, or NULL when there is no soundtrack */
  const char *url;
  const emo_media_callbacks *cb;
  /* filled by the soundtrack thread */
  emo_speech_segment *queue; /* (cap,) described segments not yet delivered: [head, n) */
  int head, n, cap;
  double last_end; /* end of the last segment described (-1: none yet) */
  int done;        /* the soundtrack's analysis returned */
  int audio_rc;
  const emo_audio_result *audio;
  int oom;               /* a segment could not be queued */
  double audio_duration; /* seconds of sound, known after the soundtrack's first pass (-1) */
  queued_log logs[LOG_QUEUE_MAX];
  int n_logs, dropped_logs;
  /* calling thread only */
  int stopped;      /* a callback asked to stop */
  psn_state *psn;   /* persons, or NULL */
  int run_sent;     /* the run record was delivered (cb->on_run) */
  int sound;        /* the soundtrack is analysed and the file has an audio stream */
  int voiced;       /* voice activity at the time of the frame being delivered (psn_frame) */
  double keep_from; /* no later segment covers a frame before this time */
  emoi_err psn_err;
  int psn_rc;
  held_frame *held; /* (cap_held,) ring: [h_head, h_head + n_held) */
  int h_head, n_held, cap_held;
  float *ev; /* (max_faces,) a held frame's final evidence */
  /* A source read once (see the top): the demuxing thread's side ... */
  int once;
  aud_reader *tap_dec; /* decodes the tapped packets (demuxing thread only) */
  float *stage;        /* (STAGE,) its samples on their way to pend (demuxing thread only) */
  /* ... shared under mu ... */
  float *pend; /* (cap_pend,) decoded samples not yet pulled: [pend_pos, n_pend) */
  size_t n_pend, cap_pend, pend_pos;
  int tap_end; /* no sample follows those in pend */
  int tap_rc;  /* the tapped soundtrack's error (with tap_err), 0 none */
  emoi_err tap_err;
  float *vprobs; /* (cap_vwin,) Silero's probabilities so far, 512 samples each */
  int64_t n_vwin, cap_vwin;
  /* ... and the calling thread's: the segmentation of the first vsegs_win windows */
  vad_seg_params vsp;
  int64_t delay; /* samples of sound past a frame before its voice activity is final */
  vad_segment *vsegs;
  int n_vsegs, cap_vsegs, vsegs_i;
  int64_t vsegs_win;
  int vq; /* first queued segment that may still cover a frame (once the soundtrack is done) */
  /* the call's soundtrack thread, and whether the frames come from emo_stream_push */
  pthread_t th;
  int running, pushed;
} media_run;

#define STAGE 16384 /* samples moved from the tapped decoder to pend at a time */

/* The soundtrack context's log callback: queue the message for the calling thread. */
static void queue_log(emo_log_level level, const char *message, void *user) {
  media_run *m = user;
  pthread_mutex_lock(&m->mu);
  if (m->n_logs < LOG_QUEUE_MAX && (m->logs[m->n_logs].text = strdup(message))) {
    m->logs[m->n_logs++].level = level;
  } else {
    m->dropped_logs++;
  }
  pthread_mutex_unlock(&m->mu);
}

/* Delivers the queued soundtrack messages through the caller's log callback. Called with mu
 * held; the callback runs with it held too (it must not call back into emo). */
static void deliver_logs(media_run *m) {
  const emoi_logger *l = &m->c->log;
  for (int i = 0; i < m->n_logs; i++) {
    if (l->fn && m->logs[i].level <= l->level) l->fn(m->logs[i].level, m->logs[i].text, l->user);
    free(m->logs[i].text);
  }
  if (m->dropped_logs)
    emoi_log(l, EMO_LOG_DEBUG, "%d soundtrack messages dropped", m->dropped_logs);
  m->n_logs = m->dropped_logs = 0;
}

/* emoi_segment_fn of the soundtrack thread: queue the segment and wake the caller. */
static int on_described(const emo_speech_segment *s, void *user) {
  media_run *m = user;
  pthread_mutex_lock(&m->mu);
  if (m->n == m->cap) {
    if (m->head > 0) { /* reuse the delivered slots */
      memmove(m->queue, m->queue + m->head, (size_t)(m->n - m->head) * sizeof *m->queue);
      m->n -= m->head;
      m->head = 0;
    }
    if (m->n == m->cap) {
      int cap = m->cap ? 2 * m->cap : 64;
      emo_speech_segment *q = realloc(m->queue, (size_t)cap * sizeof *q);
      if (!q) {
        m->oom = 1;
        pthread_cond_broadcast(&m->cv);
        pthread_mutex_unlock(&m->mu);
        return 1; /* stop the soundtrack: its result would lack this segment */
      }
      m->queue = q;
      m->cap = cap;
    }
  }
  m->queue[m->n++] = *s;
  m->last_end = s->end;
  m->audio_duration = m->st->audio.duration; /* set by its first pass, before any segment */
  pthread_cond_broadcast(&m->cv);
  pthread_mutex_unlock(&m->mu);
  return 0;
}

/* ---- a source read once: the one demuxer's audio packets become the soundtrack's samples */

/* Appends n samples to pend. Called with mu held. */
static int pend_push(media_run *m, const float *x, int n) {
  if (m->pend_pos > 0 && m->pend_pos == m->n_pend) m->pend_pos = m->n_pend = 0;
  if (m->n_pend + (size_t)n > m->cap_pend) {
    if (m->pend_pos > 0) {
      memmove(m->pend, m->pend + m->pend_pos, (m->n_pend - m->pend_pos) * sizeof *m->pend);
      m->n_pend -= m->pend_pos;
      m->pend_pos = 0;
    }
    size_t cap = m->cap_pend ? m->cap_pend : 65536;
    while (cap < m->n_pend + (size_t)n) cap *= 2;
    if (cap != m->cap_pend) {
      float *p = realloc(m->pend, cap * sizeof *p);
      if (!p) return EMO_ENOMEM;
      m->pend = p;
      m->cap_pend = cap;
    }
  }
  memcpy(m->pend + m->n_pend, x, (size_t)n * sizeof *x);
  m->n_pend += (size_t)n;
  return EMO_OK;
}

/* Moves what the tap's reader holds (after aud_feed or aud_feed_pcm returned rc) into pend for
 * the soundtrack's thread, in blocks; eof: no sample follows. Called without mu. */
static void tap_drain(media_run *m, int rc, int eof, emoi_err *err) {
  for (;;) {
    int got = rc == EMO_OK ? aud_read(m->tap_dec, m->stage, STAGE, err) : 0;
    if (got < 0) rc = got;
    pthread_mutex_lock(&m->mu);
    if (got > 0 && !m->done && pend_push(m, m->stage, got) != EMO_OK)
      rc = emoi_fail(err, EMO_ENOMEM, "out of memory for the soundtrack");
    if (rc != EMO_OK) {
      m->tap_rc = rc;
      m->tap_err = *err;
    }
    if (rc != EMO_OK || eof) m->tap_end = 1;
    pthread_cond_broadcast(&m->cv);
    pthread_mutex_unlock(&m->mu);
    if (got <= 0 || rc != EMO_OK) break;
  }
}

/* Whether the tap still takes sound (not ended, soundtrack not done). */
static int tap_open(media_run *m) {
  pthread_mutex_lock(&m->mu);
  int open = !m->tap_end && !m->done;
  pthread_mutex_unlock(&m->mu);
  return open;
}

/* The stage buffer between the tap's reader and pend. */
static int tap_stage(media_run *m, emoi_err *err) {
  if (!m->stage && !(m->stage = malloc(STAGE * sizeof *m->stage)))
    return emoi_fail(err, EMO_ENOMEM, "out of memory for the soundtrack");
  return EMO_OK;
}

/* media_io.audio_tap, on the demuxing thread: decodes the packet (outside mu) and queues its
 * samples for the soundtrack's thread; st NULL: the input has no audio stream. */
static void on_audio_packet(const AVPacket *pkt, const AVStream *st, void *user) {
  media_run *m = user;
  emoi_err err = {{0}};
  if (!st) {
    pthread_mutex_lock(&m->mu);
    m->sound = 0;
    pthread_mutex_unlock(&m->mu);
  }
  if (!tap_open(m)) return;
  int rc = EMO_OK;
  if (!st)
    rc = emoi_fail(&err, EMO_EFORMAT, "%s: no audio stream", m->url);
  else if (!m->tap_dec && (rc = aud_open_packets(st, &m->tap_dec, &err)) == EMO_OK)
    rc = tap_stage(m, &err);
  if (rc == EMO_OK) rc = aud_feed(m->tap_dec, pkt, &err);
  tap_drain(m, rc, !pkt, &err);
}

/* emoi_pull_fn of the soundtrack's thread: waits for tapped samples. */
static int pull_samples(float *buf, int max, emoi_err *err, void *user) {
  media_run *m = user;
  pthread_mutex_lock(&m->mu);
  while (m->pend_pos == m->n_pend && !m->tap_end && !atomic_load(&m->st->interrupt))
    pthread_cond_wait(&m->cv, &m->mu);
  int got = 0;
  if (m->pend_pos < m->n_pend) {
    size_t k = m->n_pend - m->pend_pos;
    got = k < (size_t)max ? (int)k : max;
    memcpy(buf, m->pend + m->pend_pos, (size_t)got * sizeof *buf);
    m->pend_pos += (size_t)got;
  } else if (m->tap_rc) {
    got = m->tap_rc;
    if (err) *err = m->tap_err;
  }
  pthread_mutex_unlock(&m->mu);
  return got;
}

/* emoi_vad_fn of the soundtrack's thread: Silero's probabilities so far, for the frames. */
static void on_vad(const float *probs, int64_t n_win, void *user) {
  media_run *m = user;
  pthread_mutex_lock(&m->mu);
  if (n_win > m->cap_vwin) {
    int64_t cap = m->cap_vwin ? m->cap_vwin : 4096;
    while (cap < n_win) cap *= 2;
    float *p = realloc(m->vprobs, (size_t)cap * sizeof *p);
    if (p) {
      m->vprobs = p;
      m->cap_vwin = cap;
    }
  }
  if (n_win > m->n_vwin && n_win <= m->cap_vwin) { /* (out of memory: known at the end) */
    memcpy(m->vprobs + m->n_vwin, probs + m->n_vwin, (size_t)(n_win - m->n_vwin) * sizeof *probs);
    m->n_vwin = n_win;
  }
  pthread_cond_broadcast(&m->cv);
  pthread_mutex_unlock(&m->mu);
}

#define VOICED_WAIT 1 /* voiced_at: not final yet */

/* The voice activity at t of a source read once (1, 0, or -1 unknown), as the file's
 * segments would give it (deliver_segments), or VOICED_WAIT while it is not final. Once the
 * soundtrack is done: from its segments. Before: Silero's segmentation of the windows so far
 * (vad_segments, redone at most every VOICED_STEP windows), taken as the diarizer takes it
 * (diarize.c: the speech frames are its segments rounded to 10 ms, and its segments cover exactly
 * those frames whatever the speakers), for t at least m->delay samples before their end: a
 * speech start found later lies more than 2 x pad after t, and any segment that could reach t
 * has lived long enough (min_speech + min_silence) to be kept or dropped for good. Called with
 * mu held, for non-decreasing t. */
#define VOICED_STEP 31 /* about 1 s of windows */
static int voiced_at(media_run *m, double t, int *voiced, emoi_err *err) {
  if (m->done) {
    if (m->audio_duration < 0 || t >= m->audio_duration) {
      *voiced = -1;
      return EMO_OK;
    }
    while (m->vq < m->n && m->queue[m->vq].end <= t) m->vq++;
    *voiced = m->vq < m->n && m->queue[m->vq].start <= t;
    return EMO_OK;
  }
  const double sr = VAD_RATE;
  if (!(t * sr + (double)m->delay <= (double)(m->n_vwin * VAD_WINDOW))) return VOICED_WAIT;
  if (!(t * sr + (double)m->delay <= (double)(m->vsegs_win * VAD_WINDOW))) {
    if (m->n_vwin - m->vsegs_win < VOICED_STEP)
      return VOICED_WAIT; /* a little more sound first: the segmentation is redone in steps */
    int64_t nw = m->n_vwin;
    int n = vad_segments(m->vprobs, nw, nw * VAD_WINDOW, &m->vsp, NULL, 0, err);
    if (n > m->cap_vsegs) {
      vad_segment *v = realloc(m->vsegs, (size_t)n * sizeof *v);
      if (!v) return emoi_fail(err, EMO_ENOMEM, "out of memory for the voice activity");
      m->vsegs = v;
      m->cap_vsegs = n;
    }
    if (n > 0) n = vad_segments(m->vprobs, nw, nw * VAD_WINDOW, &m->vsp, m->vsegs, n, err);
    if (n < 0) return n;
    m->n_vsegs = n;
    m->vsegs_win = nw;
    m->vsegs_i = 0;
  }
  /* the diarizer's frame rounding (diarize.c sec_to_frame, 100 frames a second) */
  for (; m->vsegs_i < m->n_vsegs; m->vsegs_i++) {
    double e = (double)m->vsegs[m->vsegs_i].end / sr;
    double f1 = e > 0 ? floor(e * 100 + 0.5) : 0;
    if (t < f1 / 100) break;
  }
  *voiced = 0;
  for (int i = m->vsegs_i; i < m->n_vsegs; i++) {
    double a = (double)m->vsegs[i].start / sr, e = (double)m->vsegs[i].end / sr;
    double f0 = a > 0 ? floor(a * 100 + 0.5) : 0, f1 = e > 0 ? floor(e * 100 + 0.5) : 0;
    if (f0 / 100 > t) break;
    if (f1 > f0 && t < f1 / 100) {
      *voiced = 1;
      break;
    }
  }
  return EMO_OK;
}

static void *soundtrack_main(void *arg) {
  media_run *m = arg;
  const emo_audio_result *r = NULL;
  emoi_pulled src = {m->url, pull_samples, on_vad, m};
  int rc = m->once ? emoi_analyze_audio_pulled(m->st, &src, on_described, m, &r)
                   : emoi_analyze_audio(m->st, m->url, on_described, m, &r);
  pthread_mutex_lock(&m->mu);
  m->audio_rc = rc;
  m->audio = r;
  if (r) m->audio_duration = r->duration;
  m->done = 1;
  pthread_cond_broadcast(&m->cv);
  pthread_mutex_unlock(&m->mu);
  return NULL;
}

/* Delivers, on the calling thread, every segment that ends at or before t (all when t < 0),
 * first waiting until the soundtrack has described them. Returns non-zero when a callback
 * asked to stop. */
static int deliver_segments(media_run *m, double t) {
  if (!m->st) return 0;
  int stop = 0;
  pthread_mutex_lock(&m->mu);
  for (;;) {
    deliver_logs(m);
    while (!stop && m->head < m->n && (t < 0 || m->queue[m->head].end <= t)) {
      emo_speech_segment s = m->queue[m->head++];
      if (m->psn && m->psn_rc == EMO_OK) m->psn_rc = psn_segment(m->psn, &s, &m->psn_err);
      if (m->cb->on_segment) {
        pthread_mutex_unlock(&m->mu); /* the application's callback runs unlocked */
        stop = m->cb->on_segment(&s, m->cb->user) != 0;
        pthread_mutex_lock(&m->mu);
      }
    }
    if (stop || m->done || m->oom || (t >= 0 && m->last_end > t)) break;
    pthread_cond_wait(&m->cv, &m->mu);
  }
  /* Every segment ending at or before t is delivered, and the next one (if any) described. */
  if (t >= 0 && m->psn) {
    if (m->audio_duration < 0 || t >= m->audio_duration ||
        (m->done && m->audio_rc != EMO_OK && m->audio_duration <= 0))
      m->voiced = -1; /* no sound at this time: the score cannot be computed */
    else
      m->voiced = m->head < m->n && m->queue[m->head].start <= t;
    m->keep_from = m->head < m->n ? m->queue[m->head].start : (m->done ? t : m->last_end);
  }
  pthread_mutex_unlock(&m->mu);
  return stop;
}

/* Delivers one frame: the run record first (once, when the media's duration is known), the
 * segments due, its persons fields (from evidence ev, which may be NULL), the frame. Returns
 * non-zero when a callback asked to stop. */
static int deliver_frame(media_run *m, const emo_frame_result *f, const float *ev, int av) {
  int stop = 0;
  if (!m->run_sent) {
    m->run_sent = 1;
    stop = emoi_run_deliver(m->c, m->cb, "video", m->url,
                            f->media_duration > 0 ? f->media_duration : -1.0, m->sound);
  }
  if (!m->once || f->frame < 0) /* read once: the segments come at the end (see the top) */
    stop |= deliver_segments(m, f->frame >= 0 ? f->t : -1.0);
  if (m->psn && m->psn_rc == EMO_OK) {
    if (!m->st) m->voiced = -1;
    m->psn_rc = psn_frame(m->psn, (emo_frame_result *)f, ev, av, m->voiced, &m->psn_err);
    if (f->frame >= 0 && m->st && !m->once) psn_trim(m->psn, m->keep_from);
  }
  if (m->cb->on_frame && m->cb->on_frame(f, m->cb->user)) stop = 1;
  if (stop) {
    m->stopped = 1;
    if (m->st) atomic_store(&m->st->interrupt, 1);
  }
  return stop;
}

/* Copies f, and its faces' evidence ev (may be NULL: it comes later) of kind av, into the held
 * queue. Returns EMO_OK or EMO_ENOMEM. */
static int hold_frame(media_run *m, const emo_frame_result *f, const float *ev, int av) {
  if (m->n_held == m->cap_held) {
    int cap = m->cap_held ? 2 * m->cap_held : 128;
    held_frame *h = calloc((size_t)cap, sizeof *h);
    if (!h) return EMO_ENOMEM;
    for (int i = 0; i < m->n_held; i++) h[i] = m->held[(m->h_head + i) % m->cap_held];
    for (int i = m->n_held; i < m->cap_held; i++) h[i] = m->held[(m->h_head + i) % m->cap_held];
    free(m->held);
    m->held = h;
    m->h_head = 0;
    m->cap_held = cap;
  }
  held_frame *h = &m->held[(m->h_head + m->n_held) % m->cap_held];
  if (f->face_count > h->cap_faces) {
    int cap = f->face_count;
    emo_track_face *fa = realloc(h->faces, (size_t)cap * sizeof *fa);
    if (fa) h->faces = fa;
    emo_face_details *d = fa ? realloc(h->details, (size_t)cap * sizeof *d) : NULL;
    if (d) h->details = d;
    float *e = d ? realloc(h->ev, (size_t)cap * sizeof *e) : NULL;
    if (e) h->ev = e;
    if (!fa || !d || !e) return EMO_ENOMEM;
    h->cap_faces = cap;
  }
  if (f->event_count > h->cap_events) {
    emo_event *e = realloc(h->events, (size_t)f->event_count * sizeof *e);
    if (!e) return EMO_ENOMEM;
    h->events = e;
    h->cap_events = f->event_count;
  }
  int need = 0; /* the face-head answers: probabilities and intensities per face */
  for (int i = 0; i < f->face_count; i++)
    if (f->faces[i].head && f->faces[i].custom)
      need += emo_head_classes(f->faces[i].head) * (f->faces[i].custom_intensity ? 2 : 1);
  if (need > h->cap_custom) {
    float *c = realloc(h->custom, (size_t)need * sizeof *c);
    if (!c) return EMO_ENOMEM;
    h->custom = c;
    h->cap_custom = need;
  }
  h->f = *f;
  h->has_ev = ev != NULL;
  h->av = av;
  if (ev && f->face_count) memcpy(h->ev, ev, (size_t)f->face_count * sizeof *ev);
  float *cu = h->custom;
  for (int i = 0; i < f->face_count; i++) {
    h->faces[i] = f->faces[i];
    if (f->faces[i].details) {
      h->details[i] = *f->faces[i].details;
      h->faces[i].details = &h->details[i];
    }
    if (f->faces[i].head && f->faces[i].custom) {
      const int nc = emo_head_classes(f->faces[i].head);
      memcpy(cu, f->faces[i].custom, (size_t)nc * sizeof *cu);
      h->faces[i].custom = cu;
      cu += nc;
      if (f->faces[i].custom_intensity) {
        memcpy(cu, f->faces[i].custom_intensity, (size_t)nc * sizeof *cu);
        h->faces[i].custom_intensity = cu;
        cu += nc;
      }
    }
  }
  if (f->event_count) memcpy(h->events, f->events, (size_t)f->event_count * sizeof *h->events);
  h->f.faces = h->faces;
  h->f.events = h->events;
  m->n_held++;
  return EMO_OK;
}

/* Delivers the held frames up to time `until` (all when all) whose scores are final: a late
 * speaking source's (spk, may be NULL) and, read once, the voice activity at their time.
 * Returns non-zero when a callback asked to stop. */
static int deliver_held(media_run *m, spk_source *spk, double until, int all) {
  const int late = spk && spk->ops->hold > 0.0 && spk->ops->final_scores;
  while (m->n_held > 0) {
    held_frame *h = &m->held[m->h_head];
    if (!all && late && !(h->f.t <= until)) break;
    if (m->once) {
      int v = -1;
      pthread_mutex_lock(&m->mu);
      int rc = voiced_at(m, h->f.t, &v, &m->psn_err);
      pthread_mutex_unlock(&m->mu);
      if (rc == VOICED_WAIT && !all) break;
      if (rc < 0 && m->psn_rc == EMO_OK) m->psn_rc = rc;
      m->voiced = rc == EMO_OK ? v : -1;
    }
    const float *ev = h->has_ev ? h->ev : NULL;
    int av = h->av;
    if (late && m->ev && h->f.face_count > 0) {
      spk->ops->final_scores(spk, h->f.t, h->faces, h->f.face_count, m->ev);
      ev = m->ev;
      av = spk->ops->audio_visual;
    }
    m->h_head = (m->h_head + 1) % m->cap_held;
    m->n_held--;
    if (deliver_frame(m, &h->f, ev, av)) return 1;
  }
  return 0;
}

static void held_free(media_run *m) {
  for (int i = 0; i < m->cap_held; i++) {
    free(m->held[i].faces);
    free(m->held[i].details);
    free(m->held[i].events);
    free(m->held[i].custom);
    free(m->held[i].ev);
  }
  free(m->held);
  free(m->ev);
  free(m->pend);
  free(m->vprobs);
  free(m->vsegs);
  free(m->stage);
}

/* emoi_frame_fn of the frames: the segments due, then the frame; with a late speaking source,
 * the frames that have waited long enough (see the top). */
static int on_frame(const emo_frame_result *f, void *user) {
  media_run *m = user;
  spk_source *spk = m->psn ? emoi_stream_speaking(m->c) : NULL;
  const int late = spk && spk->ops->hold > 0.0 && spk->ops->final_scores;
  int av = 0;
  const float *ev = late ? NULL : emoi_stream_evidence(m->c, NULL, &av);
  if (!late && (!m->once || !m->psn)) return deliver_frame(m, f, ev, av);
  if (late && !m->ev && !(m->ev = calloc((size_t)m->c->params.max_faces, sizeof *m->ev))) {
    m->psn_rc = emoi_fail(&m->psn_err, EMO_ENOMEM, "out of memory for the held frames");
    return 1;
  }
  if (f->frame >= 0) {
    if (f->face_count > m->c->params.max_faces || hold_frame(m, f, ev, av) != EMO_OK) {
      m->psn_rc = emoi_fail(&m->psn_err, EMO_ENOMEM, "out of memory for the held frames");
      return 1;
    }
    return deliver_held(m, spk, late ? f->t - spk->ops->hold : f->t, 0);
  }
  /* the end: every pending score, every held frame, then the end-of-stream call */
  if (!m->stopped) {
    if (late && spk->ops->flush && m->psn_rc == EMO_OK)
      m->psn_rc = spk->ops->flush(spk, &m->psn_err);
    if (m->once) { /* no sample follows: the soundtrack's segments are the final word */
      pthread_mutex_lock(&m->mu);
      m->tap_end = 1;
      pthread_cond_broadcast(&m->cv);
      while (!m->done) pthread_cond_wait(&m->cv, &m->mu);
      pthread_mutex_unlock(&m->mu);
    }
    if (deliver_held(m, spk, 0.0, 1)) return 1;
  }
  return deliver_frame(m, f, NULL, 0);
}

/* The end of a recording with persons: the method in the summary (analyze_video.c logs which
 * one runs), the join, and each person through on_person. A failure here is a warning: the
 * frames and segments were delivered. */
static void persons_end(emo_context *c, media_run *m, const emo_video_summary *vs,
                        emo_media_summary *ms) {
  const char *method = NULL;
  emoi_stream_evidence(c, &method, NULL);
  ((emo_video_summary *)vs)->speaking_method = method;
  const emo_person *p = NULL;
  const emo_person_turn *sp = NULL;
  int n = 0, n_sp = 0, rc = m->psn_rc;
  if (rc == EMO_OK) rc = psn_finish(m->psn, vs, m->audio, &p, &n, &sp, &n_sp, &m->psn_err);
  if (rc != EMO_OK) {
    emoi_log(&c->log, EMO_LOG_WARN, "persons not computed: %s", m->psn_err.msg);
    return;
  }
  ms->persons = p;
  ms->person_count = n;
  ms->turns = sp;
  ms->turn_count = n_sp;
  for (int i = 0; i < n; i++)
    if (m->cb->on_person && m->cb->on_person(&p[i], m->cb->user)) {
      ms->interrupted = 1;
      break;
    }
}

/* Starts the soundtrack's analysis for url when the model has the speech models: from the file
 * itself when url is a regular file, else from the frames' demuxer or the caller's pushed
 * samples (m->once, see the top). */
static int soundtrack_start(media_run *m, emoi_err *err) {
  emo_context *c = m->c;
  struct stat st;
  if (!c->model->ser || !c->model->vad_graph) return 0;
  m->once = m->pushed || !(stat(m->url, &st) == 0 && S_ISREG(st.st_mode));
  if (m->once) {
    int rc = emoi_vad_seg_params(&c->run, &m->vsp, err);
    if (rc != EMO_OK) return rc;
    const double ms = VAD_RATE / 1000.0; /* samples per ms */
    m->delay = (int64_t)(ms * (2.0 * m->vsp.speech_pad_ms + m->vsp.min_speech_ms +
                               m->vsp.min_silence_ms + 50.0)) +
               4 * VAD_WINDOW;
  }
  if (!c->soundtrack) {
    emo_context_params p = c->params;
    p.n_threads = 1; /* the frames' analysis has the other threads */
    p.log = NULL;
    int rc = emoi_context_create_speech(c->model, &p, &c->soundtrack);
    if (rc != EMO_OK) return emoi_fail(err, rc, "cannot create the soundtrack's context");
  }
  m->st = c->soundtrack;
  m->st->run = c->run;
  m->st->run.audio_whole = 0;
  m->st->voice_head_blocks = c->voice_head_blocks; /* checked by c's emoi_run_begin */
  m->st->log = emoi_logger_make(queue_log, m, c->log.level);
  atomic_store(&m->st->interrupt, atomic_load(&c->interrupt));
  if (pthread_create(&m->th, NULL, soundtrack_main, m) != 0) {
    m->st = NULL;
    return emoi_fail(err, EMO_ENOMEM, "cannot start the soundtrack's thread");
  }
  return 1;
}

/* The first half of a media analysis on c (after emoi_run_begin): m set up for url (pushed:
 * the frames and the sound come from emo_stream_push / emo_stream_push_audio), the persons
 * begun, the soundtrack's thread started. Returns EMO_OK, or a status with the context's
 * message (nothing to undo then). */
static int media_start(emo_context *c, media_run *m, const char *url, const emo_media_callbacks *cb,
                       int pushed) {
  static const emo_media_callbacks none = {0};
  emoi_err err = {{0}};
  memset(m, 0, sizeof *m);
  m->c = c;
  m->url = url;
  m->cb = cb ? cb : &none;
  m->pushed = pushed;
  m->last_end = -1.0;
  m->audio_duration = -1.0;
  m->voiced = -1;
  /* Persons need the soundtrack asked for and possible (a file without sound still gets its
   * face persons, with "speaking": null). */
  if (c->run.persons && c->run.soundtrack && c->model->ser && c->model->vad_graph) {
    if (!c->persons && psn_create(&c->persons, &err) != EMO_OK)
      return emoi_ctx_fail(c, EMO_ENOMEM, &err);
    m->psn = c->persons;
  }
  pthread_mutex_init(&m->mu, NULL);
  pthread_cond_init(&m->cv, NULL);
  m->running = c->run.soundtrack ? soundtrack_start(m, &err) : 0;
  if (m->running < 0) {
    pthread_mutex_destroy(&m->mu);
    pthread_cond_destroy(&m->cv);
    return emoi_ctx_fail(c, m->running, &err);
  }
  if (m->running && m->once) { /* the sound comes with the frames (on_audio_packet, pushed) */
    m->sound = 1;              /* until the demuxer finds no audio stream */
    if (!pushed) {
      c->audio_tap = on_audio_packet;
      c->audio_tap_user = m;
    }
    const char *sm = c->run.speaking_model;
    if (m->psn && sm && strcmp(sm, "mouth") != 0) {
      emoi_log(&c->log, EMO_LOG_WARN,
               "%s is read once: LR-ASD would read its sound a second time, the mouth motion "
               "gives the speaking scores",
               url);
      c->run.speaking_model = NULL;
    }
  } else if (m->running && cb && cb->on_run) { /* the run record names the speech models then */
    emo_media_info mi;
    m->sound = emo_media_probe(url, &mi, NULL, 0) == EMO_OK && mi.has_audio;
  }
  if (m->psn) {
    psn_begin(m->psn);
    int rc = psn_set_heads(m->psn, c->run.face_head, c->run.voice_head, &err);
    if (rc != EMO_OK) {
      m->stopped = 1; /* ends the soundtrack without delivering anything */
      if (m->running) atomic_store(&m->st->interrupt, 1);
      return emoi_ctx_fail(c, rc, &err);
    }
  }
  return EMO_OK;
}

/* The second half: the soundtrack joined, its messages delivered, m freed, the media summary
 * (persons delivered when the frames were: vs != NULL). rc is the frames' status. */
static int media_finish(emo_context *c, media_run *m, int rc, const emo_video_summary *vs,
                        const emo_media_summary **summary) {
  if (m->running) {
    if (rc != EMO_OK && !vs) atomic_store(&m->st->interrupt, 1); /* no frames: stop it */
    if (m->once) { /* the demuxer is closed: nothing more comes */
      pthread_mutex_lock(&m->mu);
      m->tap_end = 1;
      pthread_cond_broadcast(&m->cv);
      pthread_mutex_unlock(&m->mu);
    }
    pthread_join(m->th, NULL);
    c->audio_tap = NULL;
    c->audio_tap_user = NULL;
    aud_close(&m->tap_dec);
    pthread_mutex_lock(&m->mu);
    deliver_logs(m);
    pthread_mutex_unlock(&m->mu);
    m->st->log = emoi_logger_make(NULL, NULL, EMO_LOG_ERROR);
    if (m->audio_rc != EMO_OK) {
      const char *why = m->st->last_error[0] ? m->st->last_error : emo_status_str(m->audio_rc);
      /* a file without sound is ordinary; a soundtrack that fails is worth a warning */
      emoi_log(&c->log, strstr(why, "no audio stream") ? EMO_LOG_INFO : EMO_LOG_WARN,
               "soundtrack not analysed: %s", why);
    }
    if (m->oom) emoi_log(&c->log, EMO_LOG_WARN, "soundtrack: out of memory for its segments");
  }
  free(m->queue);
  held_free(m);
  pthread_mutex_destroy(&m->mu);
  pthread_cond_destroy(&m->cv);
  emo_media_summary *ms = &c->media;
  memset(ms, 0, sizeof *ms);
  ms->video = vs;
  ms->audio = m->running && m->audio_rc == EMO_OK && !m->oom ? m->audio : NULL;
  ms->interrupted = m->stopped || atomic_load(&c->interrupt) || (vs && vs->interrupted);
  if (m->psn && vs) persons_end(c, m, vs, ms);
  if (summary && vs) *summary = ms;
  return rc; /* the frames' error, with its message already in the context */
}

int emo_analyze_media(emo_context *c, const emo_run_params *rp, const char *url,
                      const emo_media_callbacks *cb, const emo_media_summary **summary) {
  if (summary) *summary = NULL;
  if (!c || !url) return EMO_EINVAL;
  emoi_media_abort(c);
  atomic_store(&c->interrupt, 0);
  int rc = emoi_run_begin(c, rp);
  if (rc != EMO_OK) return rc;
  media_run m;
  rc = media_start(c, &m, url, cb, 0);
  if (rc != EMO_OK) {
    if (m.psn && m.stopped) media_finish(c, &m, rc, NULL, NULL);
    return rc;
  }
  const emo_video_summary *vs = NULL;
  rc = emoi_analyze_video(c, url, on_frame, &m, &vs);
  return media_finish(c, &m, rc, vs, summary);
}

/* ---- a stream pushed by the caller, with its sound (emo_stream_begin_media) ------------ */

#define STREAM_NAME "stream" /* the stream's name in messages and the run record */

void emoi_media_abort(emo_context *c) {
  media_run *m = c ? c->stream_media : NULL;
  if (!m) return;
  c->stream_media = NULL;
  m->stopped = 1;
  if (m->running) atomic_store(&m->st->interrupt, 1);
  media_finish(c, m, EMO_OK, NULL, NULL);
  free(m);
}

int emo_stream_begin_media(emo_context *c, const emo_run_params *rp,
                           const emo_media_callbacks *cb) {
  if (!c) return EMO_EINVAL;
  emoi_media_abort(c);
  atomic_store(&c->interrupt, 0);
  int rc = emoi_run_begin(c, rp);
  if (rc == EMO_OK) rc = emoi_run_needs_faces(c);
  if (rc != EMO_OK) return rc;
  emoi_err err = {{0}};
  media_run *m = malloc(sizeof *m);
  if (!m) return emoi_ctx_fail(c, EMO_ENOMEM, &err);
  rc = media_start(c, m, STREAM_NAME, cb, 1);
  if (rc == EMO_OK && (rc = emoi_stream_start(c, NULL)) != EMO_OK) {
    m->stopped = 1; /* ends the soundtrack without delivering anything */
    if (m->running) atomic_store(&m->st->interrupt, 1);
  }
  if (rc != EMO_OK) {
    if (m->stopped) media_finish(c, m, rc, NULL, NULL);
    free(m);
    return rc;
  }
  c->stream_media = m;
  return EMO_OK;
}

int emoi_media_frame(emo_context *c, const emo_frame_result *f) {
  media_run *m = c->stream_media;
  if (m->stopped) return 1;
  return on_frame(f, m);
}

int emo_stream_push_audio(emo_context *c, const float *pcm, int n, int channels, int sample_rate) {
  if (!c) return EMO_EINVAL;
  emoi_err err = {{0}};
  media_run *m = c->stream_media;
  if (!m || (!pcm && n > 0) || n < 0 || channels < 1 || channels > 64 || sample_rate < 1 ||
      sample_rate > 1000000) {
    emoi_fail(&err, EMO_EINVAL,
              m ? "emo_stream_push_audio: %d samples of %d channels at %d Hz"
                : "emo_stream_push_audio: no stream begun with emo_stream_begin_media",
              n, channels, sample_rate);
    return emoi_ctx_fail(c, EMO_EINVAL, &err);
  }
  if (!m->running || !m->once || n == 0 || !tap_open(m)) return EMO_OK; /* no soundtrack */
  int rc = m->tap_dec ? EMO_OK : aud_open_pcm(&m->tap_dec, &err);
  if (rc == EMO_OK) rc = tap_stage(m, &err);
  if (rc == EMO_OK) rc = aud_feed_pcm(m->tap_dec, pcm, n, channels, sample_rate, &err);
  tap_drain(m, rc, 0, &err);
  /* frames held for their voice activity may be final now */
  if (rc == EMO_OK && m->n_held > 0 && !m->stopped) {
    spk_source *spk = m->psn ? emoi_stream_speaking(c) : NULL;
    const int late = spk && spk->ops->hold > 0.0 && spk->ops->final_scores;
    if (!late) deliver_held(m, spk, 0.0, 0);
  }
  return rc == EMO_OK ? EMO_OK : emoi_ctx_fail(c, rc, &err);
}

int emo_stream_end_media(emo_context *c, const emo_media_summary **summary) {
  if (summary) *summary = NULL;
  if (!c) return EMO_EINVAL;
  emoi_err err = {{0}};
  media_run *m = c->stream_media;
  if (!m) {
    emoi_fail(&err, EMO_EINVAL,
              "emo_stream_end_media: no stream begun with emo_stream_begin_media");
    return emoi_ctx_fail(c, EMO_EINVAL, &err);
  }
  c->stream_media = NULL;
  if (m->running && m->tap_dec && tap_open(m)) { /* the resampler's last samples */
    int rc = aud_feed_pcm(m->tap_dec, NULL, 0, 1, 1, &err);
    tap_drain(m, rc, 1, &err);
  }
  const emo_frame_result *last = NULL;
  const emo_video_summary *vs = NULL;
  int rc = emo_stream_end(c, &last, &vs);
  if (rc == EMO_OK) {
    ((emo_video_summary *)vs)->interrupted = m->stopped;
    on_frame(last, m);
  } else {
    vs = NULL;
  }
  rc = media_finish(c, m, rc, vs, summary);
  free(m);
  return rc;
}
