package dev.lora4j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/**
 * Every command's --help renders cleanly: picocli formats descriptions with String.format, so a
 * bare '%' in a description makes it print a warning to stderr and show raw "%n" markers.
 */
class HelpTextTest {

  /** Command paths of every command and subcommand, e.g. ["adapters", "combine"]. */
  private static List<List<String>> commandPaths(CommandLine command, List<String> prefix) {
    List<List<String>> paths = new ArrayList<>();
    for (var entry : command.getSubcommands().entrySet()) {
      if (entry.getValue().getCommandSpec().name().equals("help")
          || !entry.getKey().equals(entry.getValue().getCommandName())) {
        continue; // picocli's own help command, and aliases
      }
      List<String> path = new ArrayList<>(prefix);
      path.add(entry.getKey());
      paths.add(path);
      paths.addAll(commandPaths(entry.getValue(), path));
    }
    return paths;
  }

  @Test
  void everyCommandsHelpRendersWithoutPicocliWarnings() {
    List<List<String>> paths = commandPaths(new CommandLine(new Lora4j()), List.of());
    assertTrue(paths.size() >= 14, "commands found: " + paths);
    for (List<String> path : paths) {
      List<String> args = new ArrayList<>(path);
      args.add("--help");
      String[] r = PlanCommandTest.capture(() -> Lora4j.run(args.toArray(String[]::new)));
      assertEquals("0", r[0], path + ": " + r[2]);
      assertTrue(r[1].contains("Usage: lora4j " + String.join(" ", path)), path + ": " + r[1]);
      assertFalse(r[2].contains("WARN"), path + " --help warns: " + r[2]);
      assertFalse(r[1].contains("%n"), path + " --help shows a raw format marker: " + r[1]);
    }
  }

  @Test
  void aPercentSignInADescriptionIsShownLiterally() {
    String[] r = PlanCommandTest.capture(() -> Lora4j.run("train", "--help"));
    assertTrue(r[1].contains("(e.g. %)"), r[1]);
    r = PlanCommandTest.capture(() -> Lora4j.run("inspect", "--help"));
    assertTrue(r[1].contains("90% of the energy"), r[1]);
  }
}
