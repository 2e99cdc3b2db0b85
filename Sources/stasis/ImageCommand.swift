import ArgumentParser

struct ImageCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "image",
        abstract: "Capture, list, show, materialize and remove block images.",
        subcommands: [ImageCaptureCommand.self, ImageMaterializeCommand.self, ImageListCommand.self,
                      ImageShowCommand.self, ImageRemoveCommand.self])
}
