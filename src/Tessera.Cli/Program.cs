using System.CommandLine;
using Tessera.Cli.Commands;

var root = new RootCommand("Tessera: tensors, autodiff, training and serving for .NET.");
root.Subcommands.Add(ServeCommand.Create());
root.Subcommands.Add(BenchCommand.Create());
root.Subcommands.Add(TrainCommand.CreateTrain());
root.Subcommands.Add(TrainCommand.CreateEval());
root.Subcommands.Add(OnnxCommands.CreateRun());
root.Subcommands.Add(OnnxCommands.CreatePredict());
root.Subcommands.Add(TextCommands.CreateSegment());
root.Subcommands.Add(TextCommands.CreateText());
root.Subcommands.Add(TextCommands.CreateKeywords());
return root.Parse(args).Invoke();
