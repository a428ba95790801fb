/*  The masterfarm client's subcommands. Each returns the process exit
    code: 0 success, 1 a failed job or file, 2 bad usage.  */
#ifndef MF_CLIENT_COMMANDS_H
#define MF_CLIENT_COMMANDS_H

int cmd_run (int argc, char **argv);
int cmd_album (int argc, char **argv);
int cmd_master (int argc, char **argv);
int cmd_analyze (int argc, char **argv);
int cmd_submit (int argc, char **argv);
int cmd_status (int argc, char **argv);
int cmd_watch (int argc, char **argv);
int cmd_cancel (int argc, char **argv);
int cmd_retry (int argc, char **argv);
int cmd_priority (int argc, char **argv);
int cmd_pause (int argc, char **argv);
int cmd_resume (int argc, char **argv);
int cmd_logs (int argc, char **argv);
int cmd_keygen (int argc, char **argv);

#define EXIT_OK      0
#define EXIT_FAILED  1
#define EXIT_USAGE   2

#endif
