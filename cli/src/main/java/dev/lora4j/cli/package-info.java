/** The {@code lora4j} command line: one picocli command class per subcommand. */
package dev.lora4j.cli;
