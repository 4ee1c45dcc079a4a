/* train.h: `emo features` and `emo train` (cli/train.c), called from main.c with the whole
 * argument vector (argv[1] is the command). Each returns the process exit status. */
#ifndef EMO_CLI_TRAIN_H
#define EMO_CLI_TRAIN_H

int cli_features(int argc, char **argv);
int cli_train(int argc, char **argv);

#endif
