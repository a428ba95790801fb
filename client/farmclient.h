/*  farmclient: the client end of the masterfarm protocol, and the pieces
    that the client commands (submit, status, watch, cancel, retry, run,
    album) share.

    A farmclient_t is one ZeroMQ DEALER socket connected to the broker's
    ROUTER endpoint (proto/README.md). A request is one message
    [Envelope]; the reply comes back on the same socket. Every wait has a
    deadline: when the broker does not answer in time the call fails with
    MF_ERR_TIMEOUT and farmclient_error () says "cannot reach broker at
    URL after 5 s" (or whatever the timeout was), which the commands print.

    Watching is a stream: after a WatchRequest the broker sends WatchEvent
    messages until one is final. farmclient_watch follows that stream,
    re-sending the request when the broker goes quiet (so a watch survives
    a broker restart), and draws progress: bars per album with tracks done,
    throughput in x realtime and an ETA on a terminal, plain lines when the
    output is not a terminal.

    Security: farmclient_connect makes the socket a CURVE client when key
    files are given (--curve-key / --broker-key, or MASTERFARM_CURVE_KEY /
    MASTERFARM_BROKER_KEY). The socket's handshake events are watched, so
    that a broker refusing this client's key, or speaking another
    mechanism (plaintext vs CURVE), ends the wait at once with a message
    saying so, instead of a bare timeout. farmclient_new is always
    plaintext (the local farm of `masterfarm run` uses it).

    The local farm (`masterfarm run` and `masterfarm album`) is in
    cmd_run.c; farmclient_run_local is its entry point, declared here so
    that cmd_album.c can call it.  */
#ifndef MF_FARMCLIENT_H
#define MF_FARMCLIENT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "common/wire.h"

#define FARMCLIENT_TIMEOUT_MS      5000    //  default reply deadline
#define FARMCLIENT_SPEC_MAX_BYTES  (8u << 20)  //  largest job spec we send
#define FARMCLIENT_ERR_LEN         512

#define FARMCLIENT_ENV_CURVE_KEY   "MASTERFARM_CURVE_KEY"   //  default --curve-key
#define FARMCLIENT_ENV_BROKER_KEY  "MASTERFARM_BROKER_KEY"  //  default --broker-key

//  Help lines for the key options, shared by the commands.
#define FARMCLIENT_KEYS_HELP \
    "  --curve-key FILE   CURVE: this client's key pair (NAME.key from masterfarm\n" \
    "                     keygen; default: $MASTERFARM_CURVE_KEY)\n" \
    "  --broker-key FILE  CURVE: the broker's public key (its NAME.pub; default:\n" \
    "                     $MASTERFARM_BROKER_KEY)\n"

typedef struct farmclient_t farmclient_t;

//  Key files of a CURVE client; NULL members fall back to the environment.
typedef struct {
    const char *curve_key_path;      //  this client's key pair (NAME.key)
    const char *broker_key_path;     //  the broker's public key (NAME.pub)
} farmclient_keys_t;

//  The options the farm commands share.
typedef struct {
    const char       *broker;        //  --broker URL; NULL: $MASTERFARM_BROKER
    double            timeout_s;     //  --timeout S; 0: the command has no --timeout
                                     //  (set the default before parsing to accept it)
    farmclient_keys_t keys;          //  --curve-key, --broker-key
} farmclient_opts_t;

//  What farmclient_option made of an argument.
enum {
    FARMCLIENT_OPT_BAD   = -1,  //  a shared option's value missing or out of range
    FARMCLIENT_OPT_OTHER = 0,   //  not a shared option: the command's own
    FARMCLIENT_OPT_TAKEN = 1,   //  a shared option, stored
    FARMCLIENT_OPT_HELP  = 2    //  --help or -h: the help was printed
};

//  Option parsing for the commands: when argv[*i] is a shared option
//  (--broker, --curve-key, --broker-key, and --timeout when opts->timeout_s
//  is set), stores its value in opts, advances *i past it and returns
//  FARMCLIENT_OPT_TAKEN; for --help or -h, when help is not NULL, prints
//  the help with it to stdout and returns FARMCLIENT_OPT_HELP; returns
//  FARMCLIENT_OPT_OTHER for any other argument, FARMCLIENT_OPT_BAD
//  (message printed, naming command) when a value is missing or out of
//  range.
int farmclient_option (const char *command, int argc, char **argv, int *i,
                       farmclient_opts_t *opts, void (*help) (FILE *out));

//  The client the options ask for. NULL after printing why, naming
//  command: no broker given (neither --broker nor $MASTERFARM_BROKER), or
//  the connection cannot be made (a malformed URL, a key file).
farmclient_t *farmclient_open (const char *command, const farmclient_opts_t *opts);

//  Creates a DEALER socket connected to url ("tcp://host:port" or
//  "ipc://path"). timeout_ms is the reply deadline (0: the default).
//  Returns NULL when url is malformed or ZeroMQ fails; err holds why.
farmclient_t *farmclient_new (const char *url, int timeout_ms, char *err, size_t err_size);

//  Like farmclient_new, but a CURVE client when keys (or the environment,
//  for members left NULL) name key files: both must then be given, the
//  key pair must be private (mode 0600) and both must parse. keys may be
//  NULL (environment only). Returns NULL with err saying which file is
//  wrong and why.
farmclient_t *farmclient_connect (const char *url, int timeout_ms, const farmclient_keys_t *keys,
                                  char *err, size_t err_size);

//  Closes the socket and the context; NULL-safe; sets *self_p to NULL.
void farmclient_destroy (farmclient_t **self_p);

//  The broker URL this client talks to.
const char *farmclient_url (const farmclient_t *self);

//  The last error as one line a person can act on ("" if none).
const char *farmclient_error (const farmclient_t *self);

//  Sends one request (type and body) and waits for the reply until the
//  deadline. Replies to earlier requests (by seq) are skipped. On success
//  *reply holds the decoded reply (free with wire_msg_clear); an ERROR
//  reply is returned as such (reply->type == ERROR), not as a failure.
//  Returns 0, MF_ERR_TIMEOUT (no answer in time), MF_ERR_IO, MF_ERR_NOMEM,
//  MF_ERR_PROTOCOL (the handshake failed: key refused, or plaintext and
//  CURVE mixed; farmclient_error says which). Every call below that talks
//  to the broker may return MF_ERR_PROTOCOL for the same reasons.
int farmclient_request (farmclient_t *self, uint32_t type, const ProtobufCMessage *body,
                        wire_msg_t *reply);

//  Submits a spec (format "json", "csv" or "noop"; origin names it in
//  errors). On 0, *reply_out holds the SubmitReply (caller frees with
//  masterfarm__submit_reply__free_unpacked): job_id > 0, or job_id 0 with
//  the errors. Returns 0, MF_ERR_PROTOCOL (the broker sent an Error;
//  farmclient_error has its text), MF_ERR_TIMEOUT, MF_ERR_IO, MF_ERR_NOMEM.
int farmclient_submit (farmclient_t *self, const char *spec, size_t spec_len,
                       const char *format, const char *origin,
                       Masterfarm__SubmitReply **reply_out);

//  Asks for the status of one job (job_id > 0) or of all jobs (0). On 0,
//  *reply_out holds the StatusReply (free with
//  masterfarm__status_reply__free_unpacked). Returns 0, MF_ERR_NOTFOUND
//  (unknown job; farmclient_error says so), MF_ERR_PROTOCOL, MF_ERR_TIMEOUT,
//  MF_ERR_IO, MF_ERR_NOMEM.
int farmclient_status (farmclient_t *self, uint64_t job_id,
                       Masterfarm__StatusReply **reply_out);

//  Sends CANCEL or RETRY (type) for a job. Returns 0 when the broker
//  answered ok, MF_ERR_NOTFOUND (unknown job), MF_ERR_STATE (refused; the
//  broker's reason is in farmclient_error), MF_ERR_PROTOCOL,
//  MF_ERR_TIMEOUT, MF_ERR_IO.
int farmclient_job_command (farmclient_t *self, uint32_t type, uint64_t job_id);

//  Sends a JobRequest of any type (CANCEL, RETRY with album and track,
//  PRIORITY with priority, PAUSE, RESUME); *count (may be NULL) gets the
//  reply's count. Returns as farmclient_job_command.
int farmclient_job_request (farmclient_t *self, uint32_t type, const Masterfarm__JobRequest *req,
                            uint32_t *count);

//  Asks for the attempts log of a job (album and track: numbers from 1,
//  0: all; reference: the album's reference file, number from 1, instead
//  of a track). On 0, *reply_out holds the LogsReply (free with
//  masterfarm__logs_reply__free_unpacked). Returns as farmclient_status,
//  and MF_ERR_PROTOCOL for an album, track or reference the job does not
//  have.
int farmclient_logs (farmclient_t *self, uint64_t job_id, uint32_t album, uint32_t track,
                     uint32_t reference, Masterfarm__LogsReply **reply_out);

typedef struct {
    FILE *out;              //  where progress goes (stdout)
    bool  tty;              //  redraw bars in place; else plain lines
    bool  quiet;            //  print only the final summary
    bool  json;             //  one JSON line per event ({"final", "job"}), nothing else
    int   lost_ms;          //  give up after the broker is silent this long (0: 60 s)
    volatile int *stop;     //  when set non-zero, return MF_ERR_CANCELLED (may be NULL)
    void (*tick) (void *arg);   //  called about every 250 ms while watching (may be NULL)
    void *tick_arg;
    const char *retry_hint; //  how to retry a held album (NULL: masterfarm retry JOB)
} farmclient_watch_cfg_t;

//  Follows job_id until its final event, drawing progress as cfg says.
//  *state_out gets the final Masterfarm__JobState. Returns 0 (final state
//  reached, whatever it is), MF_ERR_NOTFOUND (unknown job),
//  MF_ERR_TIMEOUT (broker silent for cfg->lost_ms), MF_ERR_CANCELLED,
//  MF_ERR_IO.
int farmclient_watch (farmclient_t *self, uint64_t job_id,
                      const farmclient_watch_cfg_t *cfg, int *state_out);

//  A JobStatus as a JSON object (new reference; field names as in the
//  protocol, states as words); NULL on out of memory.
struct json_t;
struct json_t *farmclient_job_to_json (const Masterfarm__JobStatus *job);

//  Short lower-case names of states ("running", "done", ...).
const char *farmclient_job_state_name (int state);

//  What a job's tasks waiting out a backoff wait for (job->tasks_retrying
//  > 0): "waiting to try again: N task(s) after a failure of the machine: "
//  (brief: without "after ... machine", for a terminal's line) into head
//  (size bytes), and the error returned (its last one; "?" when none).
const char *farmclient_retrying (const Masterfarm__JobStatus *job, bool brief, char *head,
                                 size_t size);

//  Prints a job's failures to out, one line each with the album title,
//  the track number as in the spec, the profile and the reason, then a
//  line per album that is held (not published) or published incomplete.
void farmclient_print_failures (FILE *out, const Masterfarm__JobStatus *job,
                                const char *retry_hint);
const char *farmclient_task_state_name (int state);

//  Reads a job spec file (at most FARMCLIENT_SPEC_MAX_BYTES) and guesses
//  its format from the name (.csv: "csv", else "json"). Returns 0 with
//  *text (caller frees) or a negative error with err naming the file
//  (MF_ERR_FORMAT: the file holds a NUL byte, which err locates).
int farmclient_read_spec (const char *path, char **text, size_t *len,
                          const char **format, char *err, size_t err_size);

//  Prints every error of a rejected SubmitReply to out, one per line:
//  "ORIGIN: PATH (line L, column C): MESSAGE".
void farmclient_print_spec_errors (FILE *out, const char *origin,
                                   const Masterfarm__SubmitReply *reply);

//  Parses a job id ("12"). Returns 0 or MF_ERR_INVALID.
int farmclient_parse_job_id (const char *text, uint64_t *job_id);

//  An argument a of command that none of its options took, where the
//  command takes one job id: an unknown option or a second id is refused
//  on stderr, else a becomes *job_text. Returns 0, or EXIT_USAGE (2)
//  when refused.
int farmclient_job_positional (const char *command, const char *a, const char **job_text);

//  The job id of job_text (which may be NULL) into *job_id. Returns 0, or
//  EXIT_USAGE (2) after saying on stderr that a job id is needed.
int farmclient_job_arg (const char *command, const char *job_text, uint64_t *job_id);

//  The broker URL from --broker (value may be NULL) or else the
//  MASTERFARM_BROKER environment variable; NULL when neither is set.
const char *farmclient_broker_url (const char *option_value);

//  The whole of `masterfarm cancel` / `masterfarm retry`: parses
//  "JOB --broker URL", sends type (CANCEL or RETRY) and prints the result.
//  what is the help text's description. Returns the exit code.
int farmclient_cmd_job (const char *command, uint32_t type, const char *what,
                        int argc, char **argv);

//  Options of the local farm (`masterfarm run` / `masterfarm album`).
typedef struct {
    const char *command;     //  "run" or "album", for messages
    const char *job_path;    //  job spec file
    const char *out_dir;     //  output root (created)
    const char *input_root;  //  NULL: the job file's folder
    int         workers;     //  worker processes (0: one per core)
    bool        quiet;       //  no progress, summary only
} farmclient_run_cfg_t;

//  Starts a broker and workers on this machine, submits the job, watches
//  it, stops the farm and prints where the outputs are (cmd_run.c).
//  Returns the exit code: 0 all delivered, 1 failed, 2 bad usage.
int farmclient_run_local (const farmclient_run_cfg_t *cfg);

#endif
