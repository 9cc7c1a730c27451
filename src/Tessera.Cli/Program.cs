using System.CommandLine;
using Tessera.Cli.Commands;

var root = new RootCommand("Tessera: tensors, autodiff, training and serving for .NET.");
root.Subcommands.Add(ServeCommand.Create());
root.Subcommands.Add(BenchCommand.Create());
root.Subcommands.Add(TrainCommand.CreateTrain());
root.Subcommands.Add(TrainCommand.CreateEval());
return root.Parse(args).Invoke();
