/* The subcommands of `bertology`. Each parses its own flags, composes the library's floors and
 * returns the process exit code (0 ok, 2 bad usage or input, 1 internal error). */
#ifndef BT_CLI_COMMANDS_H
#define BT_CLI_COMMANDS_H

typedef int (*bt_command_fn)(int argc, char **argv);

/* Every command is a strong symbol: a command listed in main.c and not built is a link error. */
int bt_cmd_tokenize(int argc, char **argv);
int bt_cmd_bench(int argc, char **argv);
int bt_cmd_forward(int argc, char **argv);
int bt_cmd_importance(int argc, char **argv);
int bt_cmd_eval(int argc, char **argv);
int bt_cmd_mask(int argc, char **argv);
int bt_cmd_prune(int argc, char **argv);
int bt_cmd_ablate(int argc, char **argv);
int bt_cmd_syntax(int argc, char **argv);
int bt_cmd_cat(int argc, char **argv);
int bt_cmd_schema(int argc, char **argv);

#endif
