/// The timeline page's JavaScript, in parts (one file each): hashing, reading the embedded
/// export, verification, the virtual list, and the panels. They share one script scope.
enum TimelineScript {
    static var source: String {
        [prelude, hashing, data, verification, view, compare, panels].joined(separator: "\n")
    }

    /// A script error must never leave the page looking checked.
    static let prelude = #"""
    performance.mark('stasis-script');
    window.addEventListener('error', ev => {
      document.body.dataset.verify = 'error';
      const b = document.getElementById('banner');
      b.className = 'tampered';
      b.textContent = 'The page could not check this export: ' + ev.message;
    });
    """#
}
