using System.CommandLine;
using Tessera.Cli.Commands;

var root = new RootCommand("Tessera: tensors, autodiff, training and serving for .NET.");
root.Subcommands.Add(BenchCommand.Create());
root.Subcommands.Add(TreesCommand.Create());
return root.Parse(args).Invoke();
