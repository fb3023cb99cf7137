package dev.lora4j.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/** The `lora4j` command. Exit codes: 0 ok, 1 failure, 2 usage error. */
@Command(
    name = "lora4j",
    mixinStandardHelpOptions = true,
    version = "lora4j 0.1.0",
    description = "LoRA fine-tuning for the JVM on TensorFlow Java.",
    subcommands = {
      LogitsCommand.class,
      MergeCommand.class,
      TrainCommand.class,
      BenchCommand.class,
      BenchQuantCommand.class,
      QuickstartCommand.class,
      PretrainCommand.class,
      GenerateCommand.class,
      EvalCommand.class,
      PlanCommand.class,
      AdaptersCommand.class,
      ExportSavedModelCommand.class,
      InspectCommand.class,
      CompareCommand.class,
      CommandLine.HelpCommand.class
    })
public final class Lora4j {

  public static void main(String[] args) {
    System.exit(run(args));
  }

  /** Runs a command line and returns its exit code (for tests). */
  public static int run(String... args) {
    CommandLine commandLine =
        new CommandLine(new Lora4j()).setCaseInsensitiveEnumValuesAllowed(true);
    commandLine.setExecutionExceptionHandler(
        (exception, cmd, parseResult) -> {
          // A user error is one line naming the thing, the value and the fix; no stack trace.
          cmd.getErr().println("lora4j " + cmd.getCommandName() + ": " + describe(exception));
          if (System.getenv("LORA4J_DEBUG") != null) {
            exception.printStackTrace(cmd.getErr());
          }
          return 1;
        });
    return commandLine.execute(args);
  }

  private static String describe(Exception exception) {
    String message = exception.getMessage();
    return message == null ? exception.getClass().getSimpleName() : message;
  }
}
